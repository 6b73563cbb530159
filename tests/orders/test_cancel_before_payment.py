"""Cancelling from every state before money moves releases the stock once, and a pipeline
step that was mid-way when staff cancelled cannot bring the order back."""
import pytest
from django.db import transaction
from django_fsm import ConcurrentTransition

from catalog.models import Product, StockMovement
from orders.models import Order
from orders.services import order_cancel, order_transition
from orders.states import CANCELLABLE_STATES
from store.errors import Conflict

NO_MONEY_YET = ["new", "checking_address", "validating", "screening", "validated", "awaiting_approval", "payment_failed", "stalled"]


def stock() -> int:
    return Product.objects.get(public_id="prod-001").stock


def test_every_state_before_money_moves_is_cancellable():
    assert CANCELLABLE_STATES == set(NO_MONEY_YET)
    assert not {"paying", "paid", "shipping", "shipped"} & CANCELLABLE_STATES


@pytest.mark.django_db
@pytest.mark.parametrize("state", NO_MONEY_YET)
def test_staff_cancel_releases_the_stock_once(order_in_state, staff_user, catalog, state):
    before = stock()
    order = order_in_state(state, items={"prod-001": 2})
    assert stock() == before - 2

    order_cancel(order=order, actor=staff_user, note="Duplicate")
    with pytest.raises(Conflict):
        order_cancel(order=Order.objects.get(pk=order.pk), actor=staff_user)

    order = Order.objects.get(pk=order.pk)
    assert (order.state, order.stock_status) == ("cancelled", "released")
    assert stock() == before
    assert list(StockMovement.objects.filter(order_ref=order.pk).values_list("reason", "delta")) == [
        ("reserved", -2), ("released", 2)]


@pytest.mark.django_db
def test_a_paying_order_cannot_be_cancelled(order_in_state, staff_user):
    order = order_in_state("paying")

    with pytest.raises(Conflict):
        order_cancel(order=order, actor=staff_user)
    assert Order.objects.get(pk=order.pk).state == "paying"


@pytest.mark.django_db
@pytest.mark.parametrize(("state", "step_end"), [("checking_address", "address_confirmed"),
                                                 ("validating", "validation_passed"), ("screening", "risk_scored")])
def test_a_step_mid_way_when_staff_cancel_does_not_resurrect_the_order(order_in_state, staff_user, state,
                                                                       step_end):
    order = order_in_state(state)
    in_the_worker = Order.objects.get(pk=order.pk)  # what the step read before staff acted

    order_cancel(order=order, actor=staff_user)

    # The step finishes: its transition fires only from the state it started in (a no-op now)…
    kwargs = {"risk_score": 5} if step_end == "risk_scored" else {}
    assert order_transition(order_id=order.pk, name=step_end, only_from=state, **kwargs) is None
    # …and a save of its stale copy is refused by the concurrent-transition guard.
    getattr(in_the_worker, step_end)(**kwargs)
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        in_the_worker.save()
    assert Order.objects.get(pk=order.pk).state == "cancelled"
