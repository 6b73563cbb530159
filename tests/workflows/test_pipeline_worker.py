"""The pipeline through a real django-q2 cluster (latency scale 0, deterministic triggers)."""
import pytest

from catalog.models import Product
from orders.models import Order
from orders.services import order_approve, order_reject
from providers.models import GatewayCall
from tests.conftest import CARD_APPROVE, CARD_DECLINE, CARD_TIMEOUT_ONCE, wait_for
from tests.review_rules import rule_create

pytestmark = pytest.mark.worker


def _settled(order_id: int, *states: str) -> Order:
    def reached():
        order = Order.objects.get(pk=order_id)
        return order if order.state in states else None

    return wait_for(reached, timeout=60, message=f"order {order_id} to reach {states}")


def _charges(order_id: int) -> int:
    return GatewayCall.objects.filter(order_id=order_id, gateway="payment", operation="charge", outcome="ok").count()


def test_approved_card_is_delivered_with_payment_and_shipment_details(qcluster, customer, place_order):
    order = place_order(customer, {"prod-001": 1}, card=CARD_APPROVE)
    order = _settled(order.pk, "delivered", "failed", "refunded", "cancelled")
    assert order.state == "delivered"
    assert order.transaction_id.startswith("txn_")
    assert order.card_last4 == "4242"
    assert order.tracking_number and order.carrier and order.estimated_delivery
    assert _charges(order.pk) == 1


def test_declined_card_fails_after_two_automatic_retries_and_stock_returns(qcluster, customer, place_order):
    before = Product.objects.get(public_id="prod-003").stock
    order = place_order(customer, {"prod-003": 3}, card=CARD_DECLINE)
    assert Product.objects.get(public_id="prod-003").stock == before - 3
    order = _settled(order.pk, "delivered", "failed", "refunded", "cancelled")
    assert order.state == "failed"
    assert order.payment_retries == 2
    transitions = list(order.events.values_list("transition", flat=True))
    assert transitions.count("payment_declined") == 3
    assert transitions.count("retry_payment") == 2
    assert transitions[-1] == "abandon_payment"
    assert Product.objects.get(public_id="prod-003").stock == before
    assert _charges(order.pk) == 0


def test_timeout_once_card_is_delivered_after_two_attempts_and_one_charge(qcluster, customer, place_order):
    order = place_order(customer, {"prod-005": 1}, card=CARD_TIMEOUT_ONCE)
    order = _settled(order.pk, "delivered", "failed", "refunded", "cancelled")
    assert order.state == "delivered"
    attempts = GatewayCall.objects.filter(order_id=order.pk, gateway="payment", operation="charge")
    assert list(attempts.values_list("outcome", flat=True)) == ["timeout", "ok"]
    assert _charges(order.pk) == 1
    paid = order.events.get(transition="payment_approved")
    assert paid.detail["attempts"] == 2


def test_a_label_that_keeps_failing_is_refunded_in_full_with_stock_back(qcluster, customer, place_order):
    before = Product.objects.get(public_id="prod-004").stock
    order = place_order(customer, {"prod-004": 2}, card=CARD_APPROVE, zip="00500")
    order = _settled(order.pk, "delivered", "failed", "refunded", "cancelled")
    assert order.state == "refunded"
    assert order.shipping_retries == 2
    refunds = list(order.refunds.all())
    assert len(refunds) == 1 and refunds[0].amount == order.total
    assert order.refunded_amount == order.total
    assert Product.objects.get(public_id="prod-004").stock == before


@pytest.fixture
def approval_rule(transactional_db):
    return rule_create("Orders of $1,000 or more need approval", "total", "gte", "1000")


def test_big_order_waits_for_approval_then_is_delivered(qcluster, approval_rule, customer, staff_user, place_order):
    order = place_order(customer, {"prod-001": 7}, card=CARD_APPROVE)  # 7 × 149.99 = 1049.93
    order = _settled(order.pk, "awaiting_approval", "delivered", "failed")
    assert order.state == "awaiting_approval"
    assert order.events.get(transition="hold_for_review").detail["rule"] == approval_rule.name
    order_approve(order=order, actor=staff_user)
    order = _settled(order.pk, "delivered", "failed", "refunded")
    assert order.state == "delivered"
    approve = order.events.get(transition="approve")
    assert approve.actor == staff_user and approve.actor_kind == "staff"


def test_big_order_rejected_is_cancelled_with_stock_back(qcluster, approval_rule, customer, staff_user, place_order):
    before = Product.objects.get(public_id="prod-001").stock
    order = place_order(customer, {"prod-001": 7}, card=CARD_APPROVE)
    order = _settled(order.pk, "awaiting_approval")
    order_reject(order=order, actor=staff_user, note="Suspicious")
    order = Order.objects.get(pk=order.pk)
    assert order.state == "cancelled"
    assert Product.objects.get(public_id="prod-001").stock == before
