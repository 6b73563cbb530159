"""The pipeline's steps as the providers see them: each one's name, the order states it works in
and the class serving its provider by default.

The pipeline's table (workflows.pipeline.PIPELINE) is where a step is named; the pipeline sits
above the providers, so it registers each step here as it is imported, and the providers'
circuit breakers, the provider registry and the orders waiting on a provider all read the
names from here. A step's policy (attempts, timeouts, its circuit's thresholds…) is the
workflow version's (workflows.policy).
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class RegisteredStep:
    """`name`: the step, and the provider (role) it calls, behind its circuit and bulkhead.
    `states`: the order states it works in (orders wait there while its circuit is open).
    `implementation`: the class serving its provider by default (dotted path), unless
    settings.PROVIDERS names another; "" when another setting chooses (payment: PAYMENT_PROVIDERS)."""

    name: str
    states: tuple[str, ...]
    implementation: str = ""


_steps: dict[str, RegisteredStep] = {}

# The carrier's rate quotes (ShippingProvider.rates): a provider role no pipeline step has, asked
# at checkout through the "shipping" role's provider, with an outage switch and a circuit of its own.
RATES = "rates"


def step_register(name: str, *, state: str, implementation: str = "") -> None:
    """Register step `name`, working in order state `state` (a step named again for another state
    adds that state)."""
    known = _steps.get(name)
    states = known.states if known else ()
    _steps[name] = RegisteredStep(name, (*states, state) if state not in states else states,
                                  implementation or (known.implementation if known else ""))


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


def outage_roles() -> tuple[str, ...]:
    """The provider roles a simulated outage can stop (`provider_outage`): every step's and RATES."""
    return (*steps(), RATES)


def outage_choices() -> list[tuple[str, str]]:
    """(value, label) of each of outage_roles(), for SimulatedOutage.provider."""
    return [*step_choices(), (RATES, "rate quotes")]


def step_implementations() -> dict[str, str]:
    """The default class of each step's provider (dotted path), for the steps that have one."""
    return {step.name: step.implementation for step in _steps.values() if step.implementation}
