"""Every transition from every state is allowed or refused exactly as the lifecycle says."""
import pytest

from orders.models import Order
from orders.services import TransitionRefused, order_transition
from orders.states import OrderState

# The lifecycle: transition → the states it may be fired from, and where it leads.
LIFECYCLE = {
    "start_validation": ({"new"}, "validating"),
    "validation_passed": ({"validating"}, "validated"),
    "validation_failed": ({"validating"}, "failed"),
    "hold_for_review": ({"validated"}, "awaiting_approval"),
    "approve": ({"awaiting_approval"}, "paying"),
    "reject": ({"awaiting_approval"}, "cancelled"),
    "start_payment": ({"validated"}, "paying"),
    "payment_approved": ({"paying"}, "paid"),
    "payment_declined": ({"paying"}, "payment_failed"),
    "retry_payment": ({"payment_failed"}, "paying"),
    "abandon_payment": ({"payment_failed"}, "failed"),
    "start_shipping": ({"paid"}, "shipping"),
    "shipping_confirmed": ({"shipping"}, "shipped"),
    "shipping_failed": ({"shipping"}, "ship_failed"),
    "retry_shipping": ({"ship_failed"}, "shipping"),
    "refund": ({"ship_failed", "paid", "shipped", "delivered"}, "refunded"),
    "deliver_order": ({"shipped"}, "delivered"),
    "cancel_order": ({"new"}, "cancelled"),
    "cancel_validated": ({"validated", "awaiting_approval"}, "cancelled"),
}
ARGUMENTS = {
    "payment_approved": {"transaction_id": "txn_test", "card_last4": "4242"},
    "shipping_confirmed": {"tracking_number": "1Z1", "carrier": "UPS", "estimated_delivery": None},
}
CASES = [(name, state) for name in LIFECYCLE for state in OrderState.values]


def test_the_machine_has_the_designed_states_and_transitions():
    assert len(OrderState.values) == 14
    declared = {t.name for t in Order._meta.get_field("state").get_all_transitions(Order)}
    assert declared == set(LIFECYCLE)


@pytest.fixture
def order_in(customer, catalog):
    def make(state: str) -> Order:
        return Order.objects.create(
            owner=customer, state=state, ship_address="1 Main", ship_city="X", ship_state="CA", ship_zip="12345",
            total=10,
        )

    return make


@pytest.mark.parametrize(("name", "state"), CASES, ids=[f"{n}-from-{s}" for n, s in CASES])
def test_transition_from_state(order_in, name, state):
    sources, target = LIFECYCLE[name]
    order = order_in(state)
    if state in sources:
        fired = order_transition(order_id=order.pk, name=name, **ARGUMENTS.get(name, {}))
        assert fired.state == target
        event = fired.events.get()
        assert (event.transition, event.source_state, event.target_state) == (name, state, target)
    else:
        with pytest.raises(TransitionRefused) as refused:
            order_transition(order_id=order.pk, name=name, **ARGUMENTS.get(name, {}))
        assert refused.value.status == 409
        order.refresh_from_db()
        assert order.state == state
        assert not order.events.exists()


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
