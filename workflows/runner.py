"""The step runner: per-attempt timeout, exponential backoff with jitter, step-level retries.

Only transient errors (GatewayTimeout) are retried here; a business failure (out of stock,
declined, undeliverable) comes back as a failed result at once. When the retries run out,
the step fails with the timeout as its reason.
"""
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from providers.base import GatewayResult, GatewayTimeout
from workflows import metrics


@dataclass(frozen=True)
class RetryPolicy:
    retries: int
    base_delay: float
    timeout: float

    @classmethod
    def from_settings(cls, name: str) -> "RetryPolicy":
        retries, base_delay, timeout = settings.PIPELINE[name]
        return cls(retries=retries, base_delay=base_delay, timeout=timeout)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt `attempt + 1`: base · 2^(attempt-1), jittered ±50%."""
        return self.base_delay * 2 ** (attempt - 1) * random.uniform(0.5, 1.5) * settings.PIPELINE["BACKOFF_SCALE"]


@dataclass(frozen=True)
class StepOutcome:
    result: GatewayResult
    attempts: int
    simulated_ms: int


def step_run(step: str, call: Callable[[float], GatewayResult], policy: RetryPolicy) -> StepOutcome:
    """Run `call(timeout)` until it answers or the policy's retries are spent."""
    attempt = 0
    simulated_ms = 0
    while True:
        attempt += 1
        started = time.monotonic()
        try:
            result = call(policy.timeout)
        except GatewayTimeout as exc:
            metrics.step_attempt(step, "timeout", time.monotonic() - started)
            if attempt > policy.retries:
                reason = f"{step.capitalize()} provider timed out ({attempt} attempts): {exc}"
                return StepOutcome(GatewayResult(ok=False, reason=reason), attempt, simulated_ms)
            time.sleep(policy.backoff(attempt))
            continue
        simulated_ms += result.latency_ms
        metrics.step_attempt(step, "ok" if result.ok else "failed", time.monotonic() - started)
        return StepOutcome(result, attempt, simulated_ms)
