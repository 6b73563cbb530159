"""`order_in_state`: an order moved into any state through the real, declared transitions.

The path is found in `Order`'s declared transitions (the shortest from `new`), so no test
keeps a copy of the lifecycle; only what a transition needs to be told is given here.
"""
import inspect
from collections import deque
from datetime import date

from orders.models import Order
from orders.services import order_transition
from orders.states import TRANSITIONS, transitions_from

# What the transitions on the way are told (the rest take their defaults).
ARGUMENTS = {
    "hold_for_review": {"rule": "Big orders"},
    "validation_failed": {"reason": "Out of stock"},
    "payment_approved": {"transaction_id": "txn_test_1", "card_last4": "4242"},
    "payment_declined": {"reason": "Card declined"},
    "shipping_confirmed": {"tracking_number": "TRK123", "carrier": "UPS", "estimated_delivery": date(2030, 1, 3)},
    "shipping_failed": {"reason": "Undeliverable"},
    "cancel": {"reason": "Changed my mind"},
}


# What a required argument no entry above gives is told, by its annotation.
_BY_TYPE = {"str": "test", "int": 1, "date": date(2030, 1, 3)}


def arguments(name: str) -> dict:
    """What firing transition `name` is told: ARGUMENTS, plus a value for any other required argument."""
    given = dict(ARGUMENTS.get(name, {}))
    for parameter in inspect.signature(getattr(Order, name)).parameters.values():
        if parameter.kind is parameter.KEYWORD_ONLY and parameter.default is parameter.empty:
            kind = getattr(parameter.annotation, "__name__", str(parameter.annotation))
            given.setdefault(parameter.name, _BY_TYPE.get(kind, "test"))
    return given


def path_to(state: str, *, start: str = "new") -> list[str]:
    """The names of the fewest transitions from `start` to `state` (ValueError if none leads there)."""
    came_from: dict[str, tuple[str, str] | None] = {start: None}
    todo = deque([start])
    while todo:
        current = todo.popleft()
        if current == state:
            names = []
            while came_from[current] is not None:
                current, name = came_from[current]
                names.append(name)
            return names[::-1]
        for edge in sorted(transitions_from(current), key=lambda edge: edge.name):
            if edge.target not in came_from:
                came_from[edge.target] = (current, edge.name)
                todo.append(edge.target)
    raise ValueError(f"no declared transitions lead from {start} to {state}")


def order_move(order: Order, state: str) -> Order:
    """Fire the transitions that take `order` from where it is to `state`; the order as it is then."""
    for name in path_to(state, start=order.state):
        assert name in TRANSITIONS
        order_transition(order_id=order.pk, name=name, **arguments(name))
    return Order.objects.get(pk=order.pk)
