"""Every transition from every state is allowed or refused exactly as its declaration says."""
import pytest

from orders.models import Order
from orders.services import TransitionRefused, order_transition
from orders.states import TERMINAL_STATES, TRANSITIONS, OrderState, meaning
from tests.order_states import arguments, path_to

# Every declared transition from every state: (name, sources, target) as django-fsm reads the declaration.
LIFECYCLE = {name: ({edge.source for edge in Order._meta.get_field("state").get_all_transitions(Order)
                     if edge.name == name}, declared.target) for name, declared in TRANSITIONS.items()}
CASES = [(name, state) for name in LIFECYCLE for state in OrderState.values]


def test_every_state_is_reachable_and_every_working_state_can_end():
    """No state is declared that no transition leads to, and from every state an end is reachable."""
    targets = {declared.target for declared in TRANSITIONS.values()}
    assert set(OrderState.values) - targets == {"new"}
    for state in OrderState.values:
        assert any(end in TERMINAL_STATES for end in OrderState.values if _reaches(state, end)), state


def _reaches(start: str, end: str) -> bool:
    try:
        path_to(end, start=start)
    except ValueError:
        return False
    return True


@pytest.fixture
def order_in(customer, catalog):
    def make(state: str) -> Order:
        return Order.objects.create(
            owner=customer, state=state, ship_address="1 Main", ship_city="X", ship_state="CA", ship_zip="12345",
            subtotal=10, total=10,
        )

    return make


@pytest.mark.parametrize(("name", "state"), CASES, ids=[f"{n}-from-{s}" for n, s in CASES])
def test_transition_from_state(order_in, name, state):
    sources, target = LIFECYCLE[name]
    order = order_in(state)
    if meaning(name).action == "redrive":  # a re-drive is guarded: it returns the order where it stalled
        Order.objects.filter(pk=order.pk).update(stalled_in=target)
    if state in sources:
        fired = order_transition(order_id=order.pk, name=name, **arguments(name))
        assert fired.state == target
        event = fired.events.get()
        assert (event.transition, event.source_state, event.target_state) == (name, state, target)
        assert event.event_type == meaning(name).event
    else:
        with pytest.raises(TransitionRefused) as refused:
            order_transition(order_id=order.pk, name=name, **arguments(name))
        assert refused.value.status == 409
        order.refresh_from_db()
        assert order.state == state
        assert not order.events.exists()


@pytest.mark.parametrize("name", [name for name in TRANSITIONS if meaning(name).action == "redrive"])
def test_a_re_drive_returns_the_order_only_to_the_step_it_stalled_in(order_in, name):
    order = order_in("stalled")
    Order.objects.filter(pk=order.pk).update(stalled_in="elsewhere")
    with pytest.raises(TransitionRefused):
        order_transition(order_id=order.pk, name=name)
    Order.objects.filter(pk=order.pk).update(stalled_in=LIFECYCLE[name][1])
    fired = order_transition(order_id=order.pk, name=name)
    assert (fired.state, fired.stalled_in, fired.step_failures) == (LIFECYCLE[name][1], "", 0)


def test_state_cannot_be_assigned_directly(order_in):
    order = order_in("new")
    with pytest.raises(AttributeError):
        order.state = "delivered"


def test_only_from_makes_a_stale_step_a_no_op(order_in):
    order = order_in("paid")
    assert order_transition(order_id=order.pk, name="payment_approved", only_from="paying",
                            transaction_id="txn_x") is None
    order.refresh_from_db()
    assert order.state == "paid" and not order.events.exists()
