"""Pending payments (3-D Secure): the simulator answers "pending", the order waits in `paying`,
the provider's webhook settles it, or the confirmation timeout fails it. In-process pipeline."""
import ast
import logging
import socket
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_q.models import Schedule
from prometheus_client import REGISTRY

from catalog.models import Product
from notifications.models import Notification
from orders.models import Order, PaymentWebhookEvent
from orders.selectors import order_timeline
from orders.services.payment_pending import PAYMENT_PENDING_EVENT, PAYMENT_PENDING_TEXT
from providers.declines import GENERIC_DECLINE
from providers.models import GatewayCall
from providers.payment_callbacks import payment_callback_send
from providers.registry import payment_provider
from providers.webhooks import DECLINED, PaymentEvent
from tests.payment_events import CARD_PENDING, CARD_PENDING_DECLINE, answer, deliver, event_for, pending_charge
from tests.workflow_versions import version_publish_with
from workflows.confirmation import payment_expired_reason
from workflows.policy.selectors import policy_for_order
from workflows.tasks import pipeline_run

gateway = payment_provider()


def _charge(token: str, key: str):
    return gateway.charge(key=key, order_id=1, token=token, amount=Decimal("10.00"), timeout=1)


# --- the simulator --------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("card", ["4000000000003220", "4000000000003238"])
def test_a_pending_card_answers_pending_once_and_the_same_key_answers_it_again(card, settings):
    settings.SIMULATOR = {**settings.SIMULATOR, "PAYMENT_CONFIRM_DELAY_SECONDS": 5}
    token = gateway.tokenize(card).token

    first, again = _charge(token, "order-1-charge-0"), _charge(token, "order-1-charge-0")

    assert first.pending and not first.ok and first.reference.startswith("txn_")
    assert again.pending and not again.ok and again.reference == first.reference
    calls = GatewayCall.objects.filter(gateway="payment", operation="charge", idempotency_key="order-1-charge-0")
    assert [(call.outcome, call.final) for call in calls] == [("pending", True)]
    callbacks = Schedule.objects.filter(func="providers.payment_callbacks.payment_callback_send")
    assert callbacks.count() == 1  # one callback per charge, however often it is asked
    fields, attempt = ast.literal_eval(callbacks.get().args)  # django-q2 keeps the arguments' repr()
    event = PaymentEvent(**fields)
    assert attempt == 1
    assert event.type == ("payment.approved" if card.endswith("3220") else "payment.declined")
    assert (event.order_id, event.key, event.reference) == (1, "order-1-charge-0", first.reference)
    assert timedelta(seconds=3) < callbacks.get().next_run - timezone.now() <= timedelta(seconds=5)


@pytest.mark.django_db
def test_a_negative_delay_never_calls_back(settings):
    settings.SIMULATOR = {**settings.SIMULATOR, "PAYMENT_CONFIRM_DELAY_SECONDS": -1}
    assert _charge(gateway.tokenize("4000000000003220").token, "k").pending
    assert not Schedule.objects.filter(func="providers.payment_callbacks.payment_callback_send").exists()


@pytest.mark.django_db
def test_a_callback_nobody_answers_is_logged_and_tried_again_later(settings, caplog):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.SIMULATOR = {**settings.SIMULATOR, "PAYMENT_WEBHOOK_URL": f"http://127.0.0.1:{port}/api/payments/webhook",
                          "PAYMENT_WEBHOOK_ATTEMPTS": 2}
    event = {"id": "evt_1", "type": "payment.approved", "created": 1, "order_id": 1, "key": "k", "reference": "txn_1",
             "reason": ""}
    caplog.set_level(logging.INFO, logger="providers.payment_callbacks")

    assert payment_callback_send(event, 1) is None
    assert payment_callback_send(event, 2) is None

    assert [(record.levelname, record.getMessage().split(" (")[0]) for record in caplog.records] == [
        ("WARNING", f"payment callback evt_1 not delivered to {settings.SIMULATOR['PAYMENT_WEBHOOK_URL']}"),
        ("ERROR", f"payment callback evt_1 not delivered to {settings.SIMULATOR['PAYMENT_WEBHOOK_URL']} after 2 attempts"),
    ]
    retry = Schedule.objects.get(func="providers.payment_callbacks.payment_callback_send")
    assert retry.name == "payment-callback-evt_1-2"


# --- the pipeline --------------------------------------------------------------------------

def test_a_pending_payment_waits_in_paying_with_the_trace_event(sync_pipeline, customer, place_order, settings):
    stock = Product.objects.get(public_id="prod-002").stock
    order = Order.objects.get(pk=place_order(customer, card=CARD_PENDING).pk)

    assert order.state == "paying"
    pending = order.events.get(event_type=PAYMENT_PENDING_EVENT)
    assert pending.detail == {"reference": pending_charge(order.pk).result["reference"], "message": PAYMENT_PENDING_TEXT}
    assert pending.transition == "" and pending.source_state == pending.target_state == "paying"
    assert order.transaction_id == "" and order.failure_reason == ""
    assert Product.objects.get(public_id="prod-002").stock == stock - 1  # the order keeps its items meanwhile
    payment = next(stage for stage in order_timeline(order=order) if stage.key == "payment")
    assert payment.status == "current"
    # The deadline: a pipeline run when the confirmation is due.
    deadline = Schedule.objects.get(func="workflows.tasks.pipeline_run")
    assert deadline.next_run == pending.created_at + timedelta(seconds=policy_for_order(order).confirmation_timeout)


def test_a_pending_answer_counts_as_a_pending_step_attempt_not_a_failed_one(sync_pipeline, customer, place_order):
    def attempts(outcome: str) -> float:
        return REGISTRY.get_sample_value("store_step_attempts_total", {"step": "payment", "outcome": outcome}) or 0

    pending, failed = attempts("pending"), attempts("failed")
    order = place_order(customer, card=CARD_PENDING)

    assert Order.objects.get(pk=order.pk).state == "paying"
    assert (attempts("pending") - pending, attempts("failed") - failed) == (1, 0)


def test_a_rerun_before_the_deadline_changes_nothing(sync_pipeline, customer, place_order):
    order = place_order(customer, card=CARD_PENDING)
    events = Order.objects.get(pk=order.pk).events.count()

    assert pipeline_run(order.pk) == "paying"

    assert Order.objects.get(pk=order.pk).events.count() == events
    assert GatewayCall.objects.filter(order_id=order.pk, gateway="payment").count() == 1
    assert Schedule.objects.filter(func="workflows.tasks.pipeline_run").count() == 1


def test_an_approved_callback_delivers_the_order(sync_pipeline, customer, place_order, client):
    order = place_order(customer, card=CARD_PENDING)
    event = event_for(order.pk)

    response = deliver(client, event)

    assert response.status_code == 200, response.content
    assert answer(response) == {"status": "processed", "detail": "payment_approved: order is paid", "order": order.pk,
                                "state": "paid"}
    order = Order.objects.get(pk=order.pk)
    assert order.state == "delivered"  # the pipeline went on from paid
    assert order.transaction_id == event.reference
    approved = order.events.get(transition="payment_approved")
    assert approved.detail["webhook_event"] == event.id and approved.actor_kind == "system"
    assert PaymentWebhookEvent.objects.get(event_id=event.id).outcome == "applied"
    assert Notification.objects.filter(order=order, event_type="order.paid").exists()
    assert GatewayCall.objects.filter(order_id=order.pk, gateway="payment", operation="charge").count() == 1


def test_declined_callbacks_take_the_failed_payment_path(sync_pipeline, customer, place_order, client, settings):
    order = place_order(customer, card=CARD_PENDING_DECLINE)
    stock = Product.objects.get(public_id="prod-002").stock

    # Each retry charges again (a new key), is pending again, and its callback declines too.
    for _ in range(policy_for_order(order).step("payment").state_retries + 1):
        assert Order.objects.get(pk=order.pk).state == "paying"
        response = deliver(client, event_for(order.pk, DECLINED))
        assert response.status_code == 200, response.content

    order = Order.objects.get(pk=order.pk)
    assert order.state == "failed"
    assert (order.failure_reason, order.decline_code) == (GENERIC_DECLINE.advice, "generic_decline")  # no code
    transitions = list(order.events.exclude(transition="").values_list("transition", flat=True))
    assert transitions[-6:] == ["payment_declined", "retry_payment", "payment_declined", "retry_payment",
                                "payment_declined", "abandon_payment"]
    assert order.events.filter(event_type=PAYMENT_PENDING_EVENT).count() == 3
    assert Product.objects.get(public_id="prod-002").stock == stock + 1  # released


def test_no_confirmation_within_the_timeout_fails_the_order(sync_pipeline, customer, place_order, settings):
    version_publish_with({"payment.confirmationTimeoutSeconds": 900})
    order = place_order(customer, card=CARD_PENDING)
    stock = Product.objects.get(public_id="prod-002").stock
    # Fifteen minutes later (the scheduled run, or the sweeper's).
    Order.objects.get(pk=order.pk).events.filter(event_type=PAYMENT_PENDING_EVENT).update(
        created_at=timezone.now() - timedelta(seconds=901))

    assert pipeline_run(order.pk) == "failed"

    order = Order.objects.get(pk=order.pk)
    assert order.failure_reason == "The payment was not confirmed within 15 minutes; no charge was made"
    expired = order.events.get(transition="payment_expired")
    assert (expired.source_state, expired.target_state, expired.event_type) == ("paying", "failed", "order.failed")
    assert expired.detail["stock"] == "released"
    assert Product.objects.get(public_id="prod-002").stock == stock + 1
    assert "not confirmed within 15 minutes" in Notification.objects.get(order=order, event_type="order.failed").body
    payment = next(stage for stage in order_timeline(order=order) if stage.key == "payment")
    assert payment.status == "failed"
    assert GatewayCall.objects.filter(order_id=order.pk, gateway="payment", operation="charge").count() == 1


def test_an_approval_after_the_timeout_is_ignored_and_flagged_for_a_refund(
    sync_pipeline, customer, place_order, client, settings, caplog
):
    version_publish_with({"payment.confirmationTimeoutSeconds": 1})
    order = place_order(customer, card=CARD_PENDING)
    Order.objects.filter(pk=order.pk).update(charge_pending_since=timezone.now() - timedelta(seconds=2))
    Order.objects.get(pk=order.pk).events.filter(event_type=PAYMENT_PENDING_EVENT).update(
        created_at=timezone.now() - timedelta(seconds=2))
    assert pipeline_run(order.pk) == "failed"  # its deadline's run
    assert Order.objects.get(pk=order.pk).state == "failed"
    events = Order.objects.get(pk=order.pk).events.count()
    caplog.set_level(logging.INFO)

    response = deliver(client, event_for(order.pk))

    assert response.status_code == 200
    assert answer(response)["status"] == "ignored" and answer(response)["detail"] == "ignored: order is failed"
    assert Order.objects.get(pk=order.pk).events.count() == events
    assert Order.objects.get(pk=order.pk).transaction_id == ""
    warnings = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "refunded at the provider if real" in warnings[0].getMessage()
    assert PaymentWebhookEvent.objects.get(order=order).unwanted == "open"  # reconciliation refunds it


@pytest.mark.parametrize(("seconds", "text"), [(900, "15 minutes"), (60, "1 minute"), (90, "90 seconds"),
                                               (1, "1 second")])
def test_the_expiry_reason_names_the_timeout(seconds, text):
    assert payment_expired_reason(seconds) == f"The payment was not confirmed within {text}; no charge was made"


# --- a pending charge and a payment outage ----------------------------------------------------

def _rerun_in_a_payment_outage(order_id: int) -> str | None:
    from io import StringIO

    from django.core.management import call_command

    from providers import simulation

    simulation.outages_forget()
    call_command("provider_outage", "payment", "--seconds", "60", "--mode", "error", stdout=StringIO())
    try:
        return pipeline_run(order_id)  # the sweeper's run, say: the order has sat in paying for minutes
    finally:
        call_command("provider_outage", "payment", "--end", stdout=StringIO())
        simulation.outages_forget()


def test_a_rerun_in_an_outage_does_not_stall_a_pending_payment(sync_pipeline, customer, place_order, client, settings):
    settings.PIPELINE = {**settings.PIPELINE, "BACKOFF_SCALE": 0}
    order = place_order(customer, card=CARD_PENDING)

    # Its calls time out, but the provider had taken the charge: the order keeps waiting for the bank.
    assert _rerun_in_a_payment_outage(order.pk) == "paying"
    assert Order.objects.get(pk=order.pk).failure_reason == ""

    response = deliver(client, event_for(order.pk))  # so the bank's approval is applied, not ignored
    assert answer(response)["status"] == "processed", answer(response)
    assert Order.objects.get(pk=order.pk).state == "delivered"


def test_a_pending_payment_whose_calls_time_out_still_expires_at_its_deadline(
    sync_pipeline, customer, place_order, settings
):
    settings.PIPELINE = {**settings.PIPELINE, "BACKOFF_SCALE": 0}
    order = place_order(customer, card=CARD_PENDING)
    assert _rerun_in_a_payment_outage(order.pk) == "paying"
    Order.objects.get(pk=order.pk).events.filter(event_type=PAYMENT_PENDING_EVENT).update(
        created_at=timezone.now() - timedelta(seconds=policy_for_order(order).confirmation_timeout + 1))

    assert _rerun_in_a_payment_outage(order.pk) == "failed"
    assert Order.objects.get(pk=order.pk).events.filter(transition="payment_expired").exists()


def test_timeouts_of_a_charge_that_never_answered_pending_still_stall_it(sync_pipeline, customer, place_order, settings):
    from orders.services import order_transition

    settings.PIPELINE = {**settings.PIPELINE, "BACKOFF_SCALE": 0}
    order = place_order(customer, card=CARD_PENDING_DECLINE)
    assert Order.objects.get(pk=order.pk).state == "paying"
    # The retry's charge (a new key: its earlier charge's pending note no longer counts) never answers.
    settings.PIPELINE_TASKS_SYNC = False  # fire the two transitions without running the pipeline
    order_transition(order_id=order.pk, name="payment_declined", reason="declined")
    order_transition(order_id=order.pk, name="retry_payment")
    settings.PIPELINE_TASKS_SYNC = True

    assert _rerun_in_a_payment_outage(order.pk) == "stalled"


def test_a_pending_payment_with_its_calls_spent_never_claims_the_circuits_probe(
    sync_pipeline, customer, place_order, settings
):
    from providers import breakers
    from providers.models import ProviderCircuit

    settings.PIPELINE = {**settings.PIPELINE, "BACKOFF_SCALE": 0}
    order = place_order(customer, card=CARD_PENDING)
    assert _rerun_in_a_payment_outage(order.pk) == "paying"
    # The payment circuit's cool-down is over: the next call is its probe.
    ProviderCircuit.objects.update_or_create(provider="payment", defaults={
        "failures": 5, "opened_until": timezone.now() - timedelta(seconds=1), "probe_until": None})
    breakers._forget("payment")

    assert pipeline_run(order.pk) == "paying"  # e.g. circuit_wake picked it: the oldest order in paying

    assert ProviderCircuit.objects.get(provider="payment").probe_until is None  # left for an order that calls
    assert breakers.circuits_due() == ["payment"]
