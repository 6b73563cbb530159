"""The order's states, and the groups of states the rest of the code asks about.

The groups are derived from the transitions declared on `Order` (orders.meaning), never
listed by hand: a new state or transition lands in the right groups by its declaration.
"""
import inspect
from collections.abc import Iterator

from django_fsm import Transition

from orders.meaning import DONE, FAILED, REFUNDED, Meaning
from orders.models import (
    SHOP_CANCELLED_TEXT,
    SHOP_REJECTED_TEXT,
    TIMELINE,
    Actor,
    Order,
    OrderState,
    StockStatus,
)
from store.permissions import SYSTEM

__all__ = [
    "CANCELLABLE_STATES", "DECLINE_TRANSITIONS", "EDGES", "EVENT_OF_TRANSITION",
    "FULL_REFUND_TRANSITION", "PAID_STATES", "PAYMENT_FAILED_ENDINGS", "REFUNDABLE_STATES",
    "SHOP_CANCELLED_TEXT",
    "SHOP_REJECTED_TEXT", "TERMINAL_STATES", "TIMELINE", "TRANSITIONS", "UNFULFILLED_ENDINGS", "WAITING_STATES", "WORKING_STATES",
    "Actor", "OrderState", "StockStatus", "meaning", "person_transitions", "transitions_from",
]

S = OrderState

# Every (source, transition) pair django-fsm knows of, in the order they are declared on Order.
EDGES: tuple[Transition, ...] = tuple(sorted(
    Order._meta.get_field("state").get_all_transitions(Order), key=lambda edge: edge.method.__code__.co_firstlineno
))
# One Transition per name (a transition with several sources is listed once per source above).
TRANSITIONS: dict[str, Transition] = {edge.name: edge for edge in EDGES}


def meaning(name: str) -> Meaning:
    """The declared meaning of transition `name` (KeyError for an unknown one)."""
    return TRANSITIONS[name].custom["meaning"]


def transitions_from(state: str) -> Iterator[Transition]:
    return (edge for edge in EDGES if edge.source == state)


def _sources(name: str) -> frozenset[str]:
    return frozenset(edge.source for edge in EDGES if edge.name == name)


def _reachable(start: str, *, without: frozenset[str]) -> frozenset[str]:
    """The states reachable from `start` whatever the order holds: a guarded transition (a
    re-drive, which returns where the order stalled) is not followed."""
    seen, todo = {start}, [start]
    while todo:
        for edge in transitions_from(todo.pop()):
            if edge.name not in without and not edge.conditions and edge.target not in seen:
                seen.add(edge.target)
                todo.append(edge.target)
    return frozenset(seen)


# Published events, by the transition that publishes them.
EVENT_OF_TRANSITION = {name: meaning(name).event for name in TRANSITIONS if meaning(name).event}

# Ended: every way out (if any) may follow the end of an order (a refund of a delivered one).
TERMINAL_STATES = frozenset(
    state for state in S if all(meaning(edge.name).after_end for edge in transitions_from(state))
)
# Waiting for a person, who moves the order on (held for approval).
WAITING_STATES = frozenset(edge.target for edge in EDGES if meaning(edge.name).waits)
# Everything else is the pipeline's to move on; the sweeper watches these.
WORKING_STATES = frozenset(set(S) - TERMINAL_STATES - WAITING_STATES)
# Ended without the parcel reaching the customer: every end but the one delivery marks done.
UNFULFILLED_ENDINGS = TERMINAL_STATES - {edge.target for edge in EDGES if ("delivered", DONE) in meaning(edge.name).stages}
CANCELLABLE_STATES = _sources("cancel")
# Money was taken and can be given back by staff (a shipment in flight cannot).
REFUNDABLE_STATES = _sources("refund")
# The transition a refund of everything left fires, by the order's state (orders.services
# refund_create): the one from that state that marks the order refunded on the timeline
# (`refund`, or `return_refunded` for a parcel the carrier returned).
FULL_REFUND_TRANSITION = {edge.source: edge.name for edge in EDGES if ("refunded", REFUNDED) in meaning(edge.name).stages}
# Money was taken and not (fully) given back: from the payment on, until the refund. (Delayed
# is among them: an order may stall in shipping; one that stalled in payment holds no money.)
PAID_STATES = _reachable(TRANSITIONS["payment_approved"].target, without=frozenset(FULL_REFUND_TRANSITION.values()))
# The transitions that end an order because its payment failed (declined after its retries, or
# never confirmed): a payment link may pay for it.
PAYMENT_FAILED_ENDINGS = frozenset(
    name for name, edge in TRANSITIONS.items()
    if edge.target in TERMINAL_STATES and ("payment", FAILED) in meaning(name).stages
)

# The transitions that record a bank's decline of a charge (soft, retried; or hard, final): those
# that take its `decline_code`.
DECLINE_TRANSITIONS = frozenset(
    name for name, edge in TRANSITIONS.items() if "decline_code" in inspect.signature(edge.method).parameters
)


def person_transitions(order: Order, user) -> list[Transition]:
    """The transitions `user` may fire on `order` now: its state allows them, their `permission=`
    says yes, and a `not_own` one is not on the user's own order."""
    own = user is not None and user.pk == order.owner_id
    return [
        edge for edge in order.get_available_user_state_transitions(user)
        if edge.permission is not SYSTEM and not (own and meaning(edge.name).not_own)
    ]
