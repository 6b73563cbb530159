"""The pipeline's steps as the providers see them: each one's name, the order states it works in,
its retry policy and the class serving its provider by default.

The pipeline's table (workflows.pipeline.PIPELINE) is where a step is named; the pipeline sits
above the providers, so it registers each step here as it is imported, and the providers'
circuit breakers, the retry settings, the provider registry and the orders waiting on a
provider all read the names from here.

A step's retry policy is its declared default, overridden from the environment by the step's
name: `<STEP>_RETRIES`, `<STEP>_BACKOFF` (seconds) and `<STEP>_TIMEOUT` (seconds), e.g.
PAYMENT_TIMEOUT (docs/configuration.md). They are checked as the step registers (a value that is
not a number, a negative count or backoff, or a timeout under 0.01 s stops startup) and read at
each use.
"""
from dataclasses import dataclass

from store.env import env_float, env_int


@dataclass(frozen=True)
class RegisteredStep:
    """`name`: the step, and the provider (role) it calls, behind its circuit and bulkhead.
    `states`: the order states it works in (orders wait there while its circuit is open).
    `retries`, `backoff`, `timeout`: its retry policy's defaults.
    `implementation`: the class serving its provider by default (dotted path), unless
    settings.PROVIDERS names another; "" when another setting chooses (payment: PAYMENT_PROVIDERS)."""

    name: str
    states: tuple[str, ...]
    retries: int
    backoff: float
    timeout: float
    implementation: str = ""


_steps: dict[str, RegisteredStep] = {}


def step_register(name: str, *, state: str, retries: int, backoff: float, timeout: float,
                  implementation: str = "") -> None:
    """Register step `name`, working in order state `state` (a step named again for another state
    adds that state). Checks the step's retry settings in the environment (ImproperlyConfigured)."""
    known = _steps.get(name)
    states = known.states if known else ()
    step = RegisteredStep(name, (*states, state) if state not in states else states, retries, backoff, timeout,
                          implementation or (known.implementation if known else ""))
    _steps[name] = step
    step_retry(name)


def steps() -> tuple[str, ...]:
    """The registered steps' names, in the pipeline's order."""
    return tuple(_steps)


def step_states(name: str) -> tuple[str, ...]:
    """The order states step `name` works in (none for a name no step has)."""
    step = _steps.get(name)
    return step.states if step else ()


def step_choices() -> list[tuple[str, str]]:
    """(value, label) of each registered step: the model fields that name a step take their
    choices from here (a callable, so a new step needs no migration of them)."""
    return [(name, name.replace("_", " ")) for name in _steps]


def gateway_choices() -> list[tuple[str, str]]:
    """step_choices() and the notification gateway, which no pipeline step owns."""
    return [*step_choices(), ("notification", "notification")]


def step_retry(name: str) -> tuple[int, float, float]:
    """Step `name`'s retry policy: (retries, base backoff seconds, per-attempt timeout seconds).
    A negative count or backoff, or a timeout under 10 ms (a call that can never answer), stops
    startup with ImproperlyConfigured naming the variable."""
    step = _steps[name]
    prefix = name.upper()
    return (env_int(f"{prefix}_RETRIES", step.retries, minimum=0),
            env_float(f"{prefix}_BACKOFF", step.backoff, minimum=0),
            env_float(f"{prefix}_TIMEOUT", step.timeout, minimum=0.01))


def step_implementations() -> dict[str, str]:
    """The default class of each step's provider (dotted path), for the steps that have one."""
    return {step.name: step.implementation for step in _steps.values() if step.implementation}
