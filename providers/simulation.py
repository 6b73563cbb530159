"""What the simulators share: rates and triggers from settings.SIMULATOR, seeded draws, real
(scaled) latency with the caller's timeout, and the ledger that makes calls idempotent.

With SIMULATOR["SEED"] set, each call's outcome is a pure function of the seed and its
idempotency key, so runs repeat; latencies are real sleeps scaled by LATENCY_SCALE (0 in
tests and benchmarks). The first final answer per key is kept (`GatewayCall`), so a repeated
call returns it; transient errors (timeouts) are not final, a pending charge is (outcome
"pending": a repeated charge answers pending again and charges nothing).
"""
import functools
import random
import time

from django.conf import settings
from django.db import IntegrityError, transaction

from providers import metrics
from providers.base import GatewayResult, GatewayTimeout
from providers.models import GatewayCall
from store import turns


def setting(name: str):
    return settings.SIMULATOR[name]


def seeded_rng(key: str) -> random.Random:
    seed = setting("SEED")
    return random.Random(f"{seed}:{key}") if seed is not None else random.Random()


def latency_wait(rng: random.Random, bounds_ms: tuple[int, int], timeout: float | None) -> int:
    """Sleep for the simulated latency; raise GatewayTimeout when it exceeds `timeout`."""
    latency_ms = rng.randint(*bounds_ms)
    seconds = latency_ms / 1000 * setting("LATENCY_SCALE")
    # The wait is the provider's network round trip: other pipeline runs work meanwhile (store.turns).
    if timeout is not None and seconds > timeout:
        with turns.waiting():
            time.sleep(timeout)
        raise GatewayTimeout(f"no answer within {timeout:.1f}s")
    if seconds > 0:
        with turns.waiting():
            time.sleep(seconds)
    return latency_ms


def answer_remembered(gateway: str, operation: str, key: str) -> GatewayResult | None:
    call = GatewayCall.objects.filter(gateway=gateway, operation=operation, idempotency_key=key, final=True).first()
    if call is None:
        return None
    return GatewayResult(ok=call.outcome == "ok", reason=call.result.get("reason", ""),
                         reference=call.result.get("reference", ""), data=call.result.get("data", {}), latency_ms=0,
                         pending=call.outcome == "pending")


def answer_record(gateway: str, operation: str, key: str, order_id: int | None, result: GatewayResult, *, final: bool = True,
            outcome: str | None = None) -> GatewayResult:
    """Store the provider's answer; if another call with the same key got there first, return its answer."""
    try:
        with transaction.atomic():
            GatewayCall.objects.create(
                gateway=gateway, operation=operation, idempotency_key=key, order_id=order_id,
                outcome=outcome or ("ok" if result.ok else "failed"), final=final, latency_ms=result.latency_ms,
                result={"reason": result.reason, "reference": result.reference, "data": result.data},
            )
    except IntegrityError:
        return answer_remembered(gateway, operation, key) or result
    return result


def counted(gateway: str):
    """Count each call of the decorated provider method in store_gateway_calls_total by its answer."""

    def decorate(method):
        @functools.wraps(method)
        def call(*args, **kwargs) -> GatewayResult:
            try:
                result = method(*args, **kwargs)
            except GatewayTimeout:
                metrics.gateway_called(gateway, "timeout")
                raise
            except Exception:
                metrics.gateway_called(gateway, "error")
                raise
            metrics.gateway_called(gateway, "ok" if result.ok else "pending" if result.pending else "failed")
            return result

        return call

    return decorate
