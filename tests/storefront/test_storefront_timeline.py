"""The order page's timeline, computed from the order's state and its OrderEvent rows."""
import pytest

from orders.models import Order
from orders.selectors import order_get, order_timeline
from orders.services import order_approve, order_cancel, order_transition
from tests.conftest import CARD_APPROVE, CARD_DECLINE, CARD_TIMEOUT_ONCE
from workflows.models import ReviewRule


def stages(order, user):
    return [(s.label, s.status) for s in order_timeline(order=order_get(user=user, order_id=order.pk))]


def notes(order, user):
    return {s.key: s.note for s in order_timeline(order=order_get(user=user, order_id=order.pk))}


def test_a_new_order_is_queued_for_the_inventory_check(customer, place_order):
    order = place_order(customer)
    assert stages(order, customer) == [
        ("Created", "done"),
        ("Checking inventory", "current"),
        ("Processing payment", "pending"),
        ("Shipping", "pending"),
        ("Delivered", "pending"),
    ]
    assert notes(order, customer)["inventory"] == "Queued for processing"


def test_a_validated_order_waits_for_payment(customer, place_order):
    order = place_order(customer)
    order_transition(order_id=order.pk, name="start_validation")
    order_transition(order_id=order.pk, name="validation_passed")
    assert stages(order, customer)[1:3] == [("Checking inventory", "done"), ("Processing payment", "current")]


def test_a_delivered_order_has_every_stage_done(sync_pipeline, customer, place_order):
    order = place_order(customer, card=CARD_TIMEOUT_ONCE)
    assert stages(order, customer) == [
        ("Created", "done"),
        ("Checking inventory", "done"),
        ("Processing payment", "done"),
        ("Shipping", "done"),
        ("Delivered", "done"),
    ]
    order = Order.objects.get(pk=order.pk)
    text = notes(order, customer)
    assert text["payment"] == "Payment approved after 2 attempts · card ending 0119"
    assert order.tracking_number in text["shipping"] and order.carrier in text["shipping"]


def test_a_declined_card_shows_the_failed_payment_and_what_was_not_reached(sync_pipeline, customer, place_order):
    order = place_order(customer, card=CARD_DECLINE)
    assert stages(order, customer) == [
        ("Created", "done"),
        ("Checking inventory", "done"),
        ("Processing payment", "failed"),
        ("Shipping", "skipped"),
        ("Delivered", "skipped"),
    ]
    assert notes(order, customer)["payment"] == "Card declined by the issuer · gave up after 3 tries"


def test_an_undeliverable_zip_shows_the_failed_shipment_and_the_refund(sync_pipeline, customer, place_order):
    order = place_order(customer, {"prod-004": 1}, card=CARD_APPROVE, zip="00000")
    assert stages(order, customer) == [
        ("Created", "done"),
        ("Checking inventory", "done"),
        ("Processing payment", "done"),
        ("Shipping", "failed"),
        ("Delivered", "skipped"),
        ("Refunded", "refunded"),
    ]
    text = notes(order, customer)
    assert text["shipping"] == "Undeliverable address (ZIP 00000)"
    assert text["refunded"].startswith("$89.99 refunded · Shipping failed")


def test_a_cancelled_order_shows_the_cancellation(customer, place_order):
    order = place_order(customer)
    order_cancel(order=order, actor=customer)
    assert stages(order, customer) == [
        ("Created", "done"),
        ("Checking inventory", "skipped"),
        ("Processing payment", "skipped"),
        ("Shipping", "skipped"),
        ("Delivered", "skipped"),
        ("Cancelled", "cancelled"),
    ]
    assert notes(order, customer)["cancelled"] == "Cancelled by the customer"


@pytest.fixture
def approval_rule(db):
    return ReviewRule.objects.create(name="Big orders", field="total", operator="gte", value=1000)


def test_a_held_order_shows_the_approval_stage(sync_pipeline, approval_rule, customer, staff_user, place_order):
    order = place_order(customer, {"prod-001": 7})
    assert stages(order, customer)[2] == ("Awaiting approval", "current")
    assert notes(order, customer)["approval"] == "Waiting for the shop to approve this order"
    order_approve(order=Order.objects.get(pk=order.pk), actor=staff_user)
    assert stages(order, customer) == [
        ("Created", "done"),
        ("Checking inventory", "done"),
        ("Awaiting approval", "done"),
        ("Processing payment", "done"),
        ("Shipping", "done"),
        ("Delivered", "done"),
    ]
