"""Staff closing a provider's circuit by hand, after they confirmed the provider answers again."""
from dataclasses import dataclass

from orders.selectors import orders_waiting_on
from orders.services.transitions import order_ready_on_commit
from providers import breakers
from providers.models import ProviderCircuit
from providers.steps import steps
from store import permissions
from store.audit import staff_action_record


@dataclass(frozen=True)
class CircuitClosed:
    provider: str
    was_open: bool  # False: it was closed already, nothing changed
    handed_back: int  # orders in the provider's step, handed back to the pipeline


def provider_circuit_close(*, provider: str, actor) -> CircuitClosed:
    """Close `provider`'s circuit (breakers.circuit_close), record it in the audit trail and hand
    every order in the provider's step (orders_waiting_on) back to the pipeline at once, as the
    probe's answer does, rather than at the next cool-down's end or sweep. Needs orders.change_order (PermissionRefused); ValueError for an unknown provider."""
    if provider not in steps():
        raise ValueError(f"unknown provider {provider!r}")
    permissions.require(actor, permissions.ORDER_CHANGE, doing="close a provider's circuit")
    before = breakers.circuit(provider, fresh=True)
    if not breakers.circuit_close(provider):
        return CircuitClosed(provider, was_open=False, handed_back=0)
    staff_action_record(actor=actor, obj=ProviderCircuit.objects.get(provider=provider), action="circuit_close",
                        changes={"state": [before.state, breakers.CLOSED]},
                        detail={"provider": provider, "failures": before.failures, "last_failure": before.last_failure})
    waiting = list(orders_waiting_on(provider=provider).values_list("pk", flat=True)[:1000])
    for order_id in waiting:
        order_ready_on_commit(order_id)
    return CircuitClosed(provider, was_open=True, handed_back=len(waiting))
