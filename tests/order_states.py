"""`order_in_state`: an order moved into any state through the real, declared transitions.

The path is found in `Order`'s declared transitions (the pipeline's way from `new`), so no test
keeps a copy of the lifecycle; only what a transition needs to be told is given here.
"""
import heapq
import inspect
from datetime import date

from orders.meaning import FAILED, OMITTED, SKIPPED
from orders.models import Order
from orders.services import order_transition
from orders.states import TRANSITIONS, meaning, transitions_from

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
    """The names of the transitions from `start` to `state` the pipeline would take: the fewest,
    going through a failure (a transition that fails or skips a stage) only where the state
    needs one. ValueError if none leads there."""
    best: dict[str, tuple[int, list[str]]] = {start: (0, [])}
    todo = [(0, start)]
    while todo:
        cost, current = heapq.heappop(todo)
        if current == state:
            return best[current][1]
        if cost > best[current][0]:
            continue
        for edge in sorted(transitions_from(current), key=lambda edge: edge.name):
            # A detour: a failure, a transition guarded by a condition (a re-drive) or one the
            # timeline does not show (an order stalled on a provider).
            failing = (any(status in (FAILED, SKIPPED, OMITTED) for _, status in meaning(edge.name).stages)
                       or bool(edge.conditions) or not meaning(edge.name).stages)
            step = cost + (10 if failing else 1)
            if edge.target not in best or step < best[edge.target][0]:
                best[edge.target] = (step, [*best[current][1], edge.name])
                heapq.heappush(todo, (step, edge.target))
    raise ValueError(f"no declared transitions lead from {start} to {state}")


def order_move(order: Order, state: str) -> Order:
    """Fire the transitions that take `order` from where it is to `state`; the order as it is then."""
    for name in path_to(state, start=order.state):
        assert name in TRANSITIONS
        order_transition(order_id=order.pk, name=name, **arguments(name))
    return Order.objects.get(pk=order.pk)
