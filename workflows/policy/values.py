"""A version's policy as the pipeline reads it: typed, per step (workflows.policy.schema says what each means)."""
import random
from dataclasses import dataclass
from functools import cached_property

from django.conf import settings

from workflows.policy.schema import value_at


@dataclass(frozen=True)
class StepPolicy:
    """One step's policy. Times in seconds."""

    attempts: int
    base: float
    factor: float
    cap: float
    jitter: float
    timeout: float
    call_budget: int
    state_retries: int
    failures: int
    cool_down: float
    bulkhead: int
    enabled: bool

    @property
    def calls(self) -> int:
        """Calls the step may make while its provider times out: its attempts, within its call budget."""
        return min(self.attempts, self.call_budget)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt `attempt + 1`: base · factor^(attempt-1), at most the cap,
        then jittered (±jitter), times PIPELINE["BACKOFF_SCALE"] (the machine's: 0 in tests)."""
        wait = min(self.base * self.factor ** (attempt - 1), self.cap)
        return wait * random.uniform(1 - self.jitter, 1 + self.jitter) * settings.PIPELINE["BACKOFF_SCALE"]


@dataclass(frozen=True)
class Policy:
    """Version `number`'s policy (`data`: the JSON, checked by policy_clean)."""

    number: int
    data: dict

    @cached_property
    def _steps(self) -> dict[str, StepPolicy]:
        return {name: StepPolicy(
            attempts=step["attempts"], base=step["backoff"]["baseSeconds"], factor=step["backoff"]["factor"],
            cap=step["backoff"]["capSeconds"], jitter=step["backoff"]["jitter"], timeout=step["timeoutSeconds"],
            call_budget=step["callBudget"], state_retries=step.get("stateRetries", 0),
            failures=step["circuit"]["failures"], cool_down=step["circuit"]["coolDownSeconds"],
            bulkhead=step["bulkhead"], enabled=step.get("enabled", True),
        ) for name, step in self.data["steps"].items()}

    def step(self, name: str) -> StepPolicy:
        return self._steps[name]

    def runs(self, step: str) -> bool:
        """Whether orders of this version run optional step `step` (a step that is not optional always runs)."""
        return self.step(step).enabled

    def value(self, path: str):
        return value_at(self.data, path)

    @property
    def confirmation_timeout(self) -> int:
        return self.data["payment"]["confirmationTimeoutSeconds"]

    @property
    def reconcile_after(self) -> int:
        return self.data["payment"]["reconcileAfterSeconds"]

    @property
    def reconcile_every_minutes(self) -> int:
        return self.data["payment"]["reconcileEveryMinutes"]

    @property
    def tracking_timeout(self) -> float:
        return self.data["tracking"]["timeoutSeconds"]

    @property
    def tracking_ask_max(self) -> float:
        return self.data["tracking"]["askMaxSeconds"]

    @property
    def tracking_lookup_timeout(self) -> float:
        return self.data["tracking"]["lookupTimeoutSeconds"]

    @property
    def hold_hours(self) -> int:
        return self.data["holds"]["hours"]

    @property
    def hold_expiry_action(self) -> str:
        return self.data["holds"]["expiryAction"]
