"""The step runner: per-attempt timeout, backoff with jitter, the retry budget, the provider's circuit.

Every attempt is recorded as the store saw it (providers.calls: latency, outcome, attempt,
request id), timeouts included. Only transient errors (GatewayTimeout) are retried; a business failure (out of stock,
declined, undeliverable) is an answer and comes back at once. Each timeout is counted against
the provider's circuit (providers.breakers) and against the step's retry budget, which is kept
on the order so it holds across runs and restarts: a step makes at most
min(its attempts, its call budget) calls while its provider times out. Attempts, backoff,
timeout and budget are the step's policy in the order's workflow version (workflows.policy).
"""
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from providers import breakers
from providers.base import GatewayResult, GatewayTimeout
from providers.calls import ProviderRequest, call_recorded
from store import sandbox, turns
from workflows import metrics
from workflows.policy.values import StepPolicy

# How a step run ended.
ANSWERED = "answered"  # the provider answered (ok, or a business refusal): `result`
EXHAUSTED = "exhausted"  # the step's calls are spent on timeouts: `reason`
CIRCUIT_OPEN = "circuit_open"  # the provider's circuit is open: no call (more) now
LEFT = "left"  # the order left the step's state meanwhile (another run moved it)


@dataclass(frozen=True)
class StepOutcome:
    kind: str  # ANSWERED, EXHAUSTED, CIRCUIT_OPEN or LEFT
    attempts: int  # calls made by this run
    result: GatewayResult | None = None  # ANSWERED: the provider's answer
    reason: str = ""  # EXHAUSTED: why, for the customer and staff
    opened_until: datetime | None = None  # this run's failure opened the circuit until then
    closed: bool = False  # this run's answer closed the circuit (it was the probe)


def step_run(step: str, call: Callable[[float], GatewayResult], policy: StepPolicy, *,
             failures: int, count_failure: Callable[[], int | None], request: ProviderRequest) -> StepOutcome:
    """Call `call(timeout)` through the circuit of provider `step` until it answers.

    `failures`: the step's timeouts so far (earlier runs); `count_failure()` records one more
    and returns the new count, or None when the order has left the step's state. `request`
    describes the call for its record; each call is recorded as attempt `failures + 1` of its
    key (the earlier calls of the step all timed out). The caller has checked
    `breakers.allow(step)` for the first call (which may be the circuit's probe).
    """
    attempt, opened_until = 0, None
    if failures >= policy.calls:
        return StepOutcome(EXHAUSTED, 0, reason=f"{step.capitalize()} provider timed out ({failures} attempts)")
    while True:
        if attempt and not breakers.allow(step):
            return StepOutcome(CIRCUIT_OPEN, attempt, opened_until=opened_until)
        attempt += 1
        started = time.monotonic()
        try:
            result = call_recorded(request, lambda: call(policy.timeout), attempt=failures + 1)
        except GatewayTimeout as exc:
            metrics.step_attempt(step, "timeout", time.monotonic() - started)
            opened_until = breakers.failed(step, str(exc)) or opened_until
            failures = count_failure()
            if failures is None:
                return StepOutcome(LEFT, attempt, opened_until=opened_until)
            if failures >= policy.calls:
                reason = f"{step.capitalize()} provider timed out ({failures} attempts): {exc}"
                return StepOutcome(EXHAUSTED, attempt, reason=reason, opened_until=opened_until)
            if opened_until:
                return StepOutcome(CIRCUIT_OPEN, attempt, opened_until=opened_until)
            with turns.waiting():
                sandbox.wait(policy.backoff(attempt))
            continue
        answer = "ok" if result.ok else "pending" if result.pending else "failed"
        metrics.step_attempt(step, answer, time.monotonic() - started)
        closed = breakers.succeeded(step)
        return StepOutcome(ANSWERED, attempt, result=result, opened_until=opened_until, closed=closed)
