"""Risk screening: how likely an order is to be fraudulent, 0 (safe) to 100.

`RiskProvider` is the interface; `RiskSimulator` scores from the order's facts, seeded by
the call's key (settings.SIMULATOR["SEED"]) so a run repeats, and keeps its answers in the
simulators' ledger (GatewayCall) as the others do: a repeated call with the key answers the
first score. Its demo trigger: an order shipped to ZIP 99999 always scores 95.
"""
import math
from decimal import Decimal
from typing import Protocol, runtime_checkable

from providers.base import GatewayResult
from providers.simulation import (
    answer_record,
    answer_remembered,
    counted,
    latency_wait,
    outage_raise,
    seeded_rng,
    setting,
)

HIGH_RISK_ZIP = "99999"


@runtime_checkable
class RiskProvider(Protocol):
    def score(self, *, key: str, order_id: int, amount: Decimal, items: int, zip_code: str,
              timeout: float | None = None) -> GatewayResult:
        """ok with `data["score"]` (int, 0–100); raises GatewayTimeout when it did not answer in time."""


class RiskSimulator:
    """Bigger baskets score higher: 5 + 12·log10(1 + amount/$10) + 2 per item beyond one, plus 0–10
    seeded noise; everyday orders score about 20–45."""

    @counted("risk")
    def score(self, *, key: str, order_id: int, amount: Decimal, items: int, zip_code: str,
              timeout: float | None = None) -> GatewayResult:
        outage_raise("risk", timeout)
        if (known := answer_remembered("risk", "score", key)) is not None:
            return known
        rng = seeded_rng(key)
        latency = latency_wait(rng, setting("RISK_LATENCY_MS"), timeout)
        if zip_code == HIGH_RISK_ZIP:
            score = 95
        else:
            score = 5 + 12 * math.log10(1 + float(amount) / 10) + 2 * max(items - 1, 0) + rng.uniform(0, 10)
        result = GatewayResult(ok=True, reference=f"risk-{order_id}", data={"score": min(100, round(score))},
                               latency_ms=latency)
        return answer_record("risk", "score", key, order_id, result)
