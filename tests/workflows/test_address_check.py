"""The carrier's address check, a step before the payment: an undeliverable address ends the
order with nothing charged; a label that fails after the payment is still refunded by the saga;
an outage of the check makes orders wait, never fail (in-process, django-q2's sync mode)."""
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from catalog.models import Product
from orders.models import Order
from orders.services import order_redrive
from providers import breakers
from providers.models import GatewayCall, ProviderCall, ProviderCircuit, SimulatedOutage
from providers.simulation import outages_forget
from tests.conftest import CARD_APPROVE
from tests.workflow_versions import version_publish_with
from workflows.models import WorkflowVersion
from workflows.policy.selectors import policy_cache_clear, policy_default, policy_for_order
from workflows.tasks import circuit_wake


@pytest.fixture(autouse=True)
def fresh_outages():
    """No outage of a test here is remembered by a later one (the simulators read them once a second)."""
    outages_forget()
    yield
    outages_forget()


def _ledger(order: Order, gateway: str, operation: str) -> list[str]:
    """The simulator's answers to `order`'s calls, oldest first."""
    return list(GatewayCall.objects.filter(order_id=order.pk, gateway=gateway, operation=operation)
                .order_by("id").values_list("outcome", flat=True))


def test_zip_00000_fails_at_the_address_check_before_any_charge_call(sync_pipeline, customer, place_order):
    stock = Product.objects.get(public_id="prod-004").stock
    order = Order.objects.get(pk=place_order(customer, {"prod-004": 2}, card=CARD_APPROVE, zip="00000").pk)

    assert order.state == "failed"
    assert order.failure_reason == "Undeliverable address (ZIP 00000)"
    assert order.events.filter(transition="address_undeliverable").count() == 1
    # The carrier was asked once; no one was asked to charge, or to check stock.
    asked = ProviderCall.objects.filter(order_id=order.pk).exclude(provider="notification")
    assert list(asked.values_list("provider", "operation", "outcome")) == [("address", "check", "declined")]
    assert not ProviderCall.objects.filter(order_id=order.pk, provider="payment").exists()
    assert _ledger(order, "payment", "charge") == [] and not order.transaction_id
    assert not order.refunds.exists()
    assert Product.objects.get(public_id="prod-004").stock == stock  # released
    failed = next(message for message in mail.outbox if "could not be completed" in message.subject)
    assert "Undeliverable address (ZIP 00000)" in failed.body and "No charge was made." in failed.body


def test_a_label_that_keeps_failing_after_the_payment_is_charged_then_refunded(sync_pipeline, customer, place_order):
    order = Order.objects.get(pk=place_order(customer, card=CARD_APPROVE, zip="00500").pk)

    assert order.state == "refunded" and order.refunded_amount == order.total
    assert _ledger(order, "address", "check") == ["ok"]
    assert _ledger(order, "payment", "charge") == ["ok"]
    assert _ledger(order, "shipping", "label") == ["failed"] * 3  # the first, and the two state retries
    assert _ledger(order, "payment", "refund") == ["ok"]
    assert order.events.filter(transition="refund", source_state="ship_failed").exists()


def test_an_outage_at_the_address_check_makes_orders_wait_then_go_on(sync_pipeline, customer, place_order):
    version_publish_with({"steps.address.circuit.failures": 1})
    SimulatedOutage.objects.create(provider="address", mode="error", until=timezone.now() + timedelta(minutes=5))
    outages_forget()
    first = Order.objects.get(pk=place_order(customer, card=CARD_APPROVE).pk)
    second = Order.objects.get(pk=place_order(customer, card=CARD_APPROVE).pk)

    # The first failed check opened the address check's circuit: both orders wait in the step
    # (the first with a call of its budget left, the second never called), none failed, none
    # was charged.
    assert breakers.circuit("address", fresh=True).state == breakers.OPEN
    assert (first.state, first.step_failures, second.state, second.step_failures) == (
        "checking_address", 1, "checking_address", 0)
    for order in (first, second):
        waiting = order.events.last()
        assert (waiting.transition, waiting.detail["waiting"]) == ("", "address provider unavailable (circuit open)")
        assert not ProviderCall.objects.filter(order_id=order.pk, provider="payment").exists()

    # The carrier answers again and the cool-down is over: the wake's probe lets both go on.
    SimulatedOutage.objects.all().delete()
    outages_forget()
    ProviderCircuit.objects.filter(provider="address").update(opened_until=timezone.now() - timedelta(seconds=1))
    assert circuit_wake("address") == first.pk
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.state, second.state) == ("delivered", "delivered")
    assert breakers.circuit("address", fresh=True).state == breakers.CLOSED


def test_an_address_check_that_keeps_timing_out_delays_the_order_for_a_re_drive(
        sync_pipeline, customer, place_order, staff_user):
    version_publish_with({"steps.address.circuit.failures": 100})
    SimulatedOutage.objects.create(provider="address", mode="error", until=timezone.now() + timedelta(minutes=5))
    outages_forget()
    order = Order.objects.get(pk=place_order(customer, card=CARD_APPROVE).pk)

    assert (order.state, order.stalled_in) == ("stalled", "checking_address")
    assert not order.transaction_id and order.stock_status == "reserved"

    SimulatedOutage.objects.all().delete()
    outages_forget()
    order_redrive(order=order, actor=staff_user)
    order.refresh_from_db()
    assert order.state == "delivered"
    assert order.events.get(transition="redrive_address").actor == staff_user


def test_an_order_of_a_version_stored_before_the_address_check_existed_runs_it_with_the_files_values(
        sync_pipeline, customer, place_order):
    """A store whose version 1 the migration stored before the step was added: its orders still
    run, the step taking fixtures/workflow.yaml's values."""
    current = policy_default()
    older = {**current, "steps": {name: step for name, step in current["steps"].items() if name != "address"}}
    WorkflowVersion.objects.update_or_create(number=1, defaults={"status": "published", "policy": older,
                                                                 "published_at": timezone.now()})
    policy_cache_clear()
    try:
        refused = Order.objects.get(pk=place_order(customer, card=CARD_APPROVE, zip="00000").pk)
        delivered = Order.objects.get(pk=place_order(customer, card=CARD_APPROVE).pk)
        assert (refused.workflow_version, refused.state, delivered.state) == (1, "failed", "delivered")
        assert policy_for_order(delivered).step("address").attempts == policy_default()["steps"]["address"]["attempts"]
        assert _ledger(delivered, "address", "check") == ["ok"] and _ledger(refused, "payment", "charge") == []
    finally:
        policy_cache_clear()
