"""Staff cancel an order while the pipeline's inventory step waits on the warehouse (or its
review asks the rules): when the step goes on, it finds the order gone from its state and leaves
it cancelled, its stock released once."""
import pytest

from catalog.models import Product, StockMovement
from orders.models import Order
from orders.services import order_cancel
from providers.base import GatewayResult
from tests.review_rules import rule_create
from workflows import pipeline
from workflows.models import RuleEvaluation
from workflows.pipeline import pipeline_advance

pytestmark = pytest.mark.django_db


class CancellingWarehouse:
    """A warehouse that confirms every item, but only after staff cancelled the order meanwhile."""

    def check(self, *, key: str, order_id: int, items: list[tuple[str, int]], timeout: float | None = None):
        staff = Order.objects.get(pk=order_id).owner.__class__.objects.get(email="staff@example.com")
        order_cancel(order=Order.objects.get(pk=order_id), actor=staff, note="Customer phoned")
        return GatewayResult(ok=True, reference="wh-1")


def test_a_cancel_during_the_inventory_step_is_not_undone(settings, customer, staff_user, place_order):
    settings.PROVIDERS = {**settings.PROVIDERS, "inventory": f"{__name__}.CancellingWarehouse"}
    stock = Product.objects.get(public_id="prod-001").stock
    order = place_order(customer, {"prod-001": 2})

    stopped_in = pipeline_advance(order.pk)

    order = Order.objects.get(pk=order.pk)
    assert (stopped_in, order.state, order.stock_status) == ("cancelled", "cancelled", "released")
    assert [event.transition for event in order.events.all()] == ["", "start_address_check", "address_confirmed", "cancel"]
    assert Product.objects.get(public_id="prod-001").stock == stock
    assert list(StockMovement.objects.filter(order_ref=order.pk).values_list("reason", "delta")) == [
        ("reserved", -2), ("released", 2)]


def test_a_cancel_while_the_review_decides_is_not_undone_and_records_no_evaluation(
        monkeypatch, customer, staff_user, place_order):
    rule_create("Everything", "total", "gte", "0")  # it would hold the order
    real = pipeline.review_evaluate

    def evaluate_while_staff_cancel(order):
        evaluation = real(order)
        order_cancel(order=Order.objects.get(pk=order.pk), actor=staff_user, note="Customer phoned")
        return evaluation

    monkeypatch.setattr(pipeline, "review_evaluate", evaluate_while_staff_cancel)
    order = place_order(customer, {"prod-001": 2})

    stopped_in = pipeline_advance(order.pk)

    order = Order.objects.get(pk=order.pk)
    assert (stopped_in, order.state, order.stock_status) == ("cancelled", "cancelled", "released")
    assert [event.transition for event in order.events.all()][-2:] == ["risk_scored", "cancel"]
    assert not RuleEvaluation.objects.filter(order=order).exists()
