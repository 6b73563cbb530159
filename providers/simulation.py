"""What the simulators share: rates and triggers from settings.SIMULATOR, seeded draws, real
(scaled) latency with the caller's timeout, the ledger that makes calls idempotent, and the
outage switch (`SimulatedOutage`, set by `manage.py provider_outage`).

With SIMULATOR["SEED"] set, each call's outcome is a pure function of the seed and its
idempotency key, so runs repeat; latencies are real sleeps scaled by LATENCY_SCALE (0 in
tests and benchmarks). The first final answer per key is kept (`GatewayCall`), so a repeated
call returns it; transient errors (timeouts) are not final, a pending charge is (outcome
"pending": a repeated charge answers pending again and charges nothing).

Every simulated call first asks `outage_raise(provider, timeout)` whether an outage is on. The
outages are read from the database at most once per OUTAGE_REFRESH_SECONDS (1 s) per process,
whatever the number of calls or threads, so an outage starts and ends within about a second on
every worker.
"""
import functools
import random
import threading
import time

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from providers import metrics
from providers.base import GatewayResult, GatewayTimeout
from providers.models import GatewayCall, SimulatedOutage
from store import sandbox, turns
from store.env import env_float

OUTAGE_REFRESH_SECONDS = 1.0
# A call without a per-attempt timeout (a staff refund) waits this long in a "timeout" outage.
OUTAGE_WAIT_WITHOUT_TIMEOUT = 10.0


_UNSET = object()


def setting(name: str, default=_UNSET):
    """settings.SIMULATOR[name]; a simulator added later may pass its own `default`, which the
    environment's `SIM_<name>` (a number) overrides, so it needs no line in the settings."""
    if name in settings.SIMULATOR or default is _UNSET:
        return settings.SIMULATOR[name]
    return env_float(f"SIM_{name}", default) if isinstance(default, (int, float)) else default


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
            sandbox.wait(timeout)
        raise GatewayTimeout(f"no answer within {timeout:.1f}s")
    if seconds > 0:
        with turns.waiting():
            sandbox.wait(seconds)
    return latency_ms


class _OutageCache:
    """This process's copy of the outages: {provider: (until, mode)}, read at most once a second."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.read_at: float | None = None
        self.outages: dict[str, tuple] = {}

    def current(self) -> dict[str, tuple]:
        read_at = self.read_at
        if read_at is not None and self.clock() - read_at < OUTAGE_REFRESH_SECONDS:
            return self.outages
        # One thread reads; the others meanwhile use the copy they have (none yet: wait for it).
        if not self.lock.acquire(blocking=read_at is None):
            return self.outages
        try:
            if self.read_at is None or self.clock() - self.read_at >= OUTAGE_REFRESH_SECONDS:
                rows = SimulatedOutage.objects.filter(until__gt=timezone.now()).values_list("provider", "until", "mode")
                self.outages = {provider: (until, mode) for provider, until, mode in rows}
                self.read_at = self.clock()
        finally:
            self.lock.release()
        return self.outages

    def forget(self) -> None:
        self.read_at = None


_outages = _OutageCache()


def outages_forget() -> None:
    """Read the outages again on the next call (after this process switched one on or off)."""
    _outages.forget()


def outage_mode(provider: str) -> str | None:
    """The mode of `provider`'s outage ("timeout" or "error") while one is on, else None."""
    outage = _outages.current().get(provider)
    if outage is None or outage[0] <= timezone.now():
        return None
    return outage[1]


def outage_raise(provider: str, timeout: float | None, *, on_failure=None) -> None:
    """Raise GatewayTimeout if `provider` is in an outage: after waiting `timeout` in mode
    "timeout", at once in mode "error". `on_failure()` (a ledger row, say) runs just before it raises."""
    mode = outage_mode(provider)
    if mode is None:
        return
    if mode == SimulatedOutage.Mode.TIMEOUT:
        wait = OUTAGE_WAIT_WITHOUT_TIMEOUT if timeout is None else timeout
        with turns.waiting():
            sandbox.wait(max(0.0, wait))
        message = f"no answer within {wait:.1f}s ({provider} outage)"
    else:
        message = f"the {provider} provider is unavailable (outage)"
    if on_failure is not None:
        on_failure()
    raise GatewayTimeout(message)


def answer_remembered(gateway: str, operation: str, key: str) -> GatewayResult | None:
    call = GatewayCall.objects.filter(gateway=gateway, operation=operation, idempotency_key=key, final=True).first()
    if call is None:
        return None
    return GatewayResult(ok=call.outcome == "ok", reason=call.result.get("reason", ""),
                         reference=call.result.get("reference", ""), data=call.result.get("data", {}), latency_ms=0,
                         pending=call.outcome == "pending", code=call.result.get("code", ""),
                         retryable=call.result.get("retryable", True))


def answer_record(gateway: str, operation: str, key: str, order_id: int | None, result: GatewayResult, *, final: bool = True,
            outcome: str | None = None) -> GatewayResult:
    """Store the provider's answer; if another call with the same key got there first, return its answer.

    Outside a transaction the one INSERT is atomic by itself (a duplicate key leaves the
    connection usable); inside one it is a savepoint of its own, so the duplicate leaves the
    caller's work intact."""
    row = GatewayCall(
        gateway=gateway, operation=operation, idempotency_key=key, order_id=order_id,
        outcome=outcome or ("ok" if result.ok else "failed"), final=final, latency_ms=result.latency_ms,
        result={"reason": result.reason, "reference": result.reference, "data": result.data,
                **({"code": result.code, "retryable": result.retryable} if result.code else {})},
    )
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                row.save(force_insert=True)
        else:
            row.save(force_insert=True)
    except IntegrityError:
        return answer_remembered(gateway, operation, key) or result
    return result


def _result_label(result: GatewayResult) -> str:
    return "ok" if result.ok else "pending" if result.pending else "failed"


def counted(gateway: str, *, answered=_result_label):
    """Count each call of the decorated provider method in store_gateway_calls_total by its answer
    (`answered(answer)` names it: by default ok, pending or failed for a GatewayResult)."""

    def decorate(method):
        @functools.wraps(method)
        def call(*args, **kwargs):
            try:
                result = method(*args, **kwargs)
            except GatewayTimeout:
                metrics.gateway_called(gateway, "timeout")
                raise
            except Exception:
                metrics.gateway_called(gateway, "error")
                raise
            metrics.gateway_called(gateway, answered(result))
            return result

        return call

    return decorate
