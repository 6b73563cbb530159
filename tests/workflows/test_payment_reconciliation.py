"""A confirmation moves only the order that waits for its charge, and the store asks the provider
(charge_status) instead of guessing: at the deadline, on a schedule, for unwanted approvals.
In-process pipeline (django-q2's sync mode) and the real webhook."""
import logging
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.sql import emit_post_migrate_signal
from django.db import connections
from django.test import Client
from django.utils import timezone
from django_q.models import Schedule

from orders.models import Order, PaymentWebhookEvent
from orders.services import order_transition
from orders.services.payment_pending import PAYMENT_PENDING_EVENT
from orders.services.payment_reconcile import payment_reconcile
from providers import simulation
from providers.declines import DECLINES
from providers.models import GatewayCall
from providers.registry import payment_provider
from tests.payment_events import (
    CARD_PENDING,
    CARD_PENDING_DECLINE,
    answer,
    bank_answered,
    deliver,
    event_about,
    event_for,
    pending_charge,
)
from tests.workflow_versions import version_publish_with
from workflows.policy.selectors import policy_for_order
from workflows.tasks import RECONCILE_SCHEDULE, payments_reconcile, pipeline_run, sweeper_schedule_sync


def _pending_since(order: Order, seconds: float) -> None:
    """The order's charge has waited `seconds` for the bank."""
    moment = timezone.now() - timedelta(seconds=seconds)
    Order.objects.filter(pk=order.pk).update(charge_pending_since=moment)
    Order.objects.get(pk=order.pk).events.filter(event_type=PAYMENT_PENDING_EVENT).update(created_at=moment)


def _refunds(reference: str) -> list[GatewayCall]:
    return list(GatewayCall.objects.filter(gateway="payment", operation="refund", result__data__transaction=reference))


# --- the charge key -----------------------------------------------------------------------------

def test_the_order_keeps_the_key_of_the_charge_it_waits_for(sync_pipeline, customer, place_order):
    order = Order.objects.get(pk=place_order(customer, card=CARD_PENDING).pk)
    charge = pending_charge(order.pk)

    assert order.state == "paying"
    assert order.charge_key == charge.idempotency_key == f"order-{order.pk}-charge-0"
    assert order.charge_pending_reference == charge.result["reference"]
    assert order.charge_pending_since is not None


def test_an_event_for_another_charge_is_ignored_with_the_reason_and_a_warning(
    sync_pipeline, customer, place_order, client, caplog
):
    order = place_order(customer, card=CARD_PENDING)
    other = event_for(order.pk, key=f"order-{order.pk}-charge-7", reference="txn_someoneelse")
    caplog.set_level(logging.INFO, logger="orders.payment_webhook")

    response = deliver(client, other)

    assert response.status_code == 200, response.content
    assert answer(response) == {
        "status": "ignored", "order": order.pk, "state": "paying",
        "detail": f"ignored: charge order-{order.pk}-charge-7 is not the charge order {order.pk} waits for"}
    order = Order.objects.get(pk=order.pk)
    assert (order.state, order.transaction_id) == ("paying", "")
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"order-{order.pk}-charge-7" in warnings[0].getMessage()
    kept = PaymentWebhookEvent.objects.get(event_id=other.id)
    assert (kept.outcome, kept.unwanted) == ("ignored", "open")
    # The order's own charge is still applied.
    assert answer(deliver(client, event_for(order.pk)))["status"] == "processed"
    assert Order.objects.get(pk=order.pk).state == "delivered"


def test_a_declined_event_for_another_charge_changes_nothing_and_needs_no_refund(
    sync_pipeline, customer, place_order, client
):
    order = place_order(customer, card=CARD_PENDING)
    response = deliver(client, event_for(order.pk, "payment.declined", key="order-x-charge-0"))

    assert answer(response)["status"] == "ignored"
    assert Order.objects.get(pk=order.pk).state == "paying"
    assert PaymentWebhookEvent.objects.get().unwanted == ""


def test_an_unwanted_approval_of_a_real_charge_is_refunded_once_by_its_key(
    sync_pipeline, customer, place_order, client, admin_client
):
    order = place_order(customer, card=CARD_PENDING)
    # An older attempt's charge, which the bank approved: real at the provider.
    gateway = payment_provider()
    stray = gateway.charge(key=f"order-{order.pk}-charge-old", order_id=order.pk, amount=order.total, timeout=1,
                           token=gateway.tokenize("4242424242424242").token)
    deliver(client, event_for(order.pk, key=f"order-{order.pk}-charge-old", reference=stray.reference))

    payments_reconcile()
    payments_reconcile()  # asked again (the next run of the schedule): nothing more is refunded

    refunds = _refunds(stray.reference)
    assert [(call.idempotency_key, call.result["data"]["amount"]) for call in refunds] == [
        (f"order-{order.pk}-charge-old-void", str(order.total))]
    kept = PaymentWebhookEvent.objects.get(order=order)
    assert (kept.unwanted, kept.refund_reference) == ("refunded", refunds[0].result["reference"])
    assert Order.objects.get(pk=order.pk).state == "paying"  # still waiting for its own charge
    page = admin_client.get("/admin/orders/order/attention/").content.decode()
    assert f'data-charge="{stray.reference}"' in page and "Refunded at the provider" in page


def test_an_unwanted_approval_the_provider_never_charged_needs_no_refund(sync_pipeline, customer, place_order, client):
    order = place_order(customer, card=CARD_PENDING)
    deliver(client, event_for(order.pk, key="order-forgotten-charge-0", reference="txn_unknown"))

    payments_reconcile()

    assert PaymentWebhookEvent.objects.get(order=order).unwanted == "not_charged"
    assert not GatewayCall.objects.filter(operation="refund").exists()


def test_an_approval_after_the_order_expired_is_refunded(sync_pipeline, customer, place_order, client, settings):
    order = place_order(customer, card=CARD_PENDING)
    bank_answered(order.pk)
    version_publish_with({"payment.reconcileAfterSeconds": 24 * 3600})  # not asked by the schedule
    # The order expired without asking (as if the provider had not answered then).
    order_transition(order_id=order.pk, name="payment_expired", reason="not confirmed")
    late = event_for(order.pk)

    assert answer(deliver(client, late))["detail"] == "ignored: order is failed"
    payments_reconcile()

    assert [call.idempotency_key for call in _refunds(late.reference)] == [f"order-{order.pk}-charge-0-void"]
    assert PaymentWebhookEvent.objects.get(event_id=late.id).unwanted == "refunded"


def test_an_approval_of_another_paid_orders_charge_is_ignored_and_never_refunded(
    sync_pipeline, customer, place_order, client, caplog
):
    receiving, paid = place_order(customer), place_order(customer)  # both delivered, paid by card 4242
    paid = Order.objects.get(pk=paid.pk)
    stray = event_about(receiving.pk, key=f"order-{paid.pk}-charge-0", reference=paid.transaction_id)
    caplog.set_level(logging.INFO, logger="orders.payment_webhook")

    said = answer(deliver(client, stray))
    payments_reconcile()
    payments_reconcile()

    assert said["status"] == "ignored" and f"is not order {receiving.pk}'s" in said["detail"]
    assert f"order {paid.pk}" not in said["detail"]  # whose charge it is: for staff, not the caller
    assert any(record.levelno == logging.WARNING and f"order {paid.pk}'s" in record.getMessage()
               for record in caplog.records)
    assert PaymentWebhookEvent.objects.get(event_id=stray.id).unwanted == ""
    assert _refunds(paid.transaction_id) == []
    assert [Order.objects.get(pk=pk).state for pk in (receiving.pk, paid.pk)] == ["delivered", "delivered"]


def test_an_approval_of_another_pending_orders_charge_never_voids_it_once_it_settles(
    sync_pipeline, customer, place_order, client
):
    receiving, waiting = (place_order(customer, card=CARD_PENDING) for _ in range(2))
    charge = pending_charge(waiting.pk)  # the waiting order's own charge, sent to the other order
    stray = event_about(receiving.pk, key=charge.idempotency_key, reference=charge.result["reference"])

    said = answer(deliver(client, stray))
    bank_answered(waiting.pk)
    _pending_since(waiting, 10**4)
    payments_reconcile()

    assert said["status"] == "ignored" and f"is not order {receiving.pk}'s" in said["detail"]
    assert PaymentWebhookEvent.objects.get(event_id=stray.id).note.endswith(f"it is order {waiting.pk}'s")
    assert PaymentWebhookEvent.objects.get(event_id=stray.id).unwanted == ""
    waiting = Order.objects.get(pk=waiting.pk)
    assert (waiting.state, waiting.transaction_id) == ("delivered", stray.reference)
    assert _refunds(stray.reference) == []
    assert Order.objects.get(pk=receiving.pk).state == "paying"


def test_an_open_unwanted_approval_of_a_charge_an_order_holds_is_not_refunded(
    sync_pipeline, customer, place_order
):
    receiving, paid = place_order(customer, card=CARD_PENDING), place_order(customer)
    paid = Order.objects.get(pk=paid.pk)
    kept = PaymentWebhookEvent.objects.create(
        event_id="evt_kept_open", event_type="payment.approved", order=receiving, outcome="ignored",
        order_state="paying", unwanted="open",
        payload={"key": f"order-{paid.pk}-charge-0", "reference": paid.transaction_id})

    payments_reconcile()

    assert PaymentWebhookEvent.objects.get(pk=kept.pk).unwanted == "not_ours"
    assert _refunds(paid.transaction_id) == [] and not GatewayCall.objects.filter(operation="refund").exists()


def test_an_unwanted_approval_the_provider_made_for_another_order_is_not_refunded(
    sync_pipeline, customer, place_order, client, admin_client
):
    order = place_order(customer, card=CARD_PENDING)
    gateway = payment_provider()
    # A charge the provider made for order 999 under a key no order of this store holds.
    elsewhere = gateway.charge(key="order-999-charge-0", order_id=999, amount=order.total, timeout=1,
                               token=gateway.tokenize("4242424242424242").token)
    deliver(client, event_for(order.pk, key="order-999-charge-0", reference=elsewhere.reference))

    payments_reconcile()

    kept = PaymentWebhookEvent.objects.get(order=order)
    assert kept.unwanted == "not_ours" and _refunds(elsewhere.reference) == []
    page = admin_client.get("/admin/orders/order/attention/").content.decode()
    assert f'data-charge="{elsewhere.reference}"' in page and "Not refunded" in page


# --- the reference --------------------------------------------------------------------------

def test_the_right_key_with_another_reference_is_ignored_with_the_reason(
    sync_pipeline, customer, place_order, client, caplog
):
    order = Order.objects.get(pk=place_order(customer, card=CARD_PENDING).pk)
    caplog.set_level(logging.INFO, logger="orders.payment_webhook")

    said = answer(deliver(client, event_for(order.pk, reference="txn_not_the_pending_ref")))

    assert said == {"status": "ignored", "order": order.pk, "state": "paying",
                    "detail": f"ignored: reference txn_not_the_pending_ref is not the reference of the charge order "
                              f"{order.pk} waits for"}
    assert [record.levelno for record in caplog.records if "txn_not_the_pending_ref" in record.getMessage()] == [
        logging.WARNING]
    assert (Order.objects.get(pk=order.pk).state, Order.objects.get(pk=order.pk).transaction_id) == ("paying", "")
    assert answer(deliver(client, event_for(order.pk)))["status"] == "processed"  # its own still applies


def _reference_not_recorded_yet(order: Order) -> None:
    """The callback overtakes the pending answer: the order waits for the key, not yet the reference."""
    Order.objects.filter(pk=order.pk).update(charge_pending_reference="")


def test_before_the_reference_is_known_the_provider_confirms_the_approval_and_its_reference(
    sync_pipeline, customer, place_order, client
):
    order = place_order(customer, card=CARD_PENDING)
    charge = bank_answered(order.pk)
    _reference_not_recorded_yet(order)

    said = answer(deliver(client, event_for(order.pk)))

    assert said["status"] == "processed"
    order = Order.objects.get(pk=order.pk)
    assert (order.state, order.transaction_id) == ("delivered", charge.result["reference"])


@pytest.mark.parametrize("bank", ["not settled", "another reference"])
def test_before_the_reference_is_known_an_approval_the_provider_does_not_confirm_is_ignored(
    sync_pipeline, customer, place_order, client, bank
):
    order = place_order(customer, card=CARD_PENDING)  # callbacks off: the bank has not answered
    reference = "txn_not_the_pending_ref" if bank == "another reference" else pending_charge(order.pk).result["reference"]
    if bank == "another reference":
        bank_answered(order.pk)
    _reference_not_recorded_yet(order)

    said = answer(deliver(client, event_for(order.pk, reference=reference)))

    assert said["status"] == "ignored" and "the provider" in said["detail"]
    order = Order.objects.get(pk=order.pk)
    assert (order.state, order.transaction_id) == ("paying", "")


# --- reconciliation ---------------------------------------------------------------------------

def test_at_the_deadline_an_approved_charge_makes_the_order_paid_instead_of_failed(
    sync_pipeline, customer, place_order, settings
):
    order = place_order(customer, card=CARD_PENDING)
    charge = bank_answered(order.pk)
    _pending_since(order, policy_for_order(order).confirmation_timeout + 1)  # the deadline's run

    assert pipeline_run(order.pk) == "delivered"

    order = Order.objects.get(pk=order.pk)
    assert order.transaction_id == charge.result["reference"] and order.charge_key == ""
    approved = order.events.get(transition="payment_approved")
    assert approved.detail["reconciled"] == charge.idempotency_key
    assert not order.events.filter(transition="payment_expired").exists()
    assert GatewayCall.objects.filter(order_id=order.pk, gateway="payment", operation="charge").count() == 1


def test_at_the_deadline_a_declined_charge_takes_the_failed_payment_path(sync_pipeline, customer, place_order, settings):
    order = place_order(customer, card=CARD_PENDING_DECLINE)
    bank_answered(order.pk)
    _pending_since(order, policy_for_order(order).confirmation_timeout + 1)
    Schedule.objects.filter(func="workflows.tasks.pipeline_run").delete()  # the deadline's run is this one

    assert pipeline_run(order.pk) == "paying"  # declined, retried: a new charge waits for the bank

    order = Order.objects.get(pk=order.pk)
    declined = order.events.get(transition="payment_declined")
    assert (declined.detail["reason"], declined.detail["decline_code"]) == (
        DECLINES["authentication_required"].advice, "authentication_required")
    assert order.charge_key == f"order-{order.pk}-charge-1"


def test_at_the_deadline_a_charge_still_pending_expires_as_before(sync_pipeline, customer, place_order, settings):
    order = place_order(customer, card=CARD_PENDING)  # callbacks off: the bank never settles
    _pending_since(order, policy_for_order(order).confirmation_timeout + 1)

    assert pipeline_run(order.pk) == "failed"
    assert Order.objects.get(pk=order.pk).events.filter(transition="payment_expired").exists()


def test_reconciliation_and_the_webhook_settle_the_order_once(sync_pipeline, customer, place_order, client):
    order = place_order(customer, card=CARD_PENDING)
    bank_answered(order.pk)
    found = payment_reconcile(order_id=order.pk)
    late = deliver(client, event_for(order.pk))  # the provider's callback comes through after all
    again = payment_reconcile(order_id=order.pk)

    order = Order.objects.get(pk=order.pk)
    assert (found.found, found.transition) == ("approved", "payment_approved")
    assert answer(late)["detail"] == "ignored: order is delivered"
    assert again.found == "nothing"
    assert order.state == "delivered"
    assert order.events.filter(transition="payment_approved").count() == 1
    assert PaymentWebhookEvent.objects.get(order=order).unwanted == ""  # the charge it took: nothing to refund
    assert not GatewayCall.objects.filter(operation="refund").exists()


def test_when_the_webhook_came_first_reconciliation_finds_nothing_to_do(sync_pipeline, customer, place_order, client):
    order = place_order(customer, card=CARD_PENDING)
    bank_answered(order.pk)
    assert answer(deliver(client, event_for(order.pk)))["status"] == "processed"

    assert payment_reconcile(order_id=order.pk).transition == ""
    assert Order.objects.get(pk=order.pk).events.filter(transition="payment_approved").count() == 1


def test_the_schedule_asks_about_payments_pending_longer_than_the_setting(
    sync_pipeline, customer, place_order, settings
):
    version_publish_with({"payment.reconcileAfterSeconds": 120})
    old, recent, silent = (place_order(customer, card=CARD_PENDING) for _ in range(3))
    for order in (old, recent):
        bank_answered(order.pk)
    _pending_since(old, 121)
    _pending_since(silent, 121)  # its bank has not answered yet

    assert payments_reconcile() == 1

    assert Order.objects.get(pk=old.pk).state == "delivered"
    assert Order.objects.get(pk=recent.pk).state == "paying"  # asked once it has waited 120 s
    assert Order.objects.get(pk=silent.pk).state == "paying"  # pending: left for its deadline


def test_the_schedule_is_made_by_a_migration_and_follows_the_current_version(
    db, django_capture_on_commit_callbacks
):
    schedule = Schedule.objects.get(name=RECONCILE_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "workflows.tasks.payments_reconcile", Schedule.MINUTES, 1)

    with django_capture_on_commit_callbacks(execute=True):
        version_publish_with({"payment.reconcileEveryMinutes": 3})

    assert Schedule.objects.get(name=RECONCILE_SCHEDULE).minutes == 3
    Schedule.objects.filter(name=RECONCILE_SCHEDULE).update(minutes=1)
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")  # what `migrate` ends with
    assert Schedule.objects.get(name=RECONCILE_SCHEDULE).minutes == 3
    assert sweeper_schedule_sync() == 0


def test_an_unreachable_provider_leaves_the_order_waiting(sync_pipeline, customer, place_order):
    order = place_order(customer, card=CARD_PENDING)
    bank_answered(order.pk)
    simulation.outages_forget()
    call_command("provider_outage", "payment", "--seconds", "60", "--mode", "error", stdout=StringIO())
    try:
        found = payment_reconcile(order_id=order.pk)
    finally:
        call_command("provider_outage", "payment", "--end", stdout=StringIO())
        simulation.outages_forget()

    assert (found.found, found.transition) == ("unreachable", "")
    assert Order.objects.get(pk=order.pk).state == "paying"


def test_the_api_runs_the_same_reconciliation_for_staff_who_may_change_orders(
    sync_pipeline, customer, place_order, staff_api, customer_api
):
    order = place_order(customer, card=CARD_PENDING)
    bank_answered(order.pk)

    refused = customer_api.post(f"/api/orders/{order.pk}/reconcile")  # the customer's own order
    assert refused.status_code == 403 and Order.objects.get(pk=order.pk).state == "paying"
    assert refused.json()["error"] == "You do not have permission to check orders' payments with the provider."

    response = staff_api.post(f"/api/orders/{order.pk}/reconcile")

    assert response.status_code == 200, response.content
    assert response.json() == {"found": "approved", "transition": "payment_approved", "state": "paid",
                               "detail": f"The provider says the charge was approved: order {order.number} is paid."}
    assert Order.objects.get(pk=order.pk).state == "delivered"
    again = staff_api.post(f"/api/orders/{order.pk}/reconcile").json()
    assert (again["found"], again["transition"]) == ("nothing", "")


def test_the_webhook_and_reconciliation_at_the_same_time_settle_the_order_once(sync_pipeline, customer, place_order,
                                                                               settings):
    """Both lock the order's row (on SQLite the writes serialize: IMMEDIATE transactions)."""
    order = place_order(customer, card=CARD_PENDING)
    bank_answered(order.pk)
    settings.PIPELINE_TASKS_SYNC = False  # the hand-back to the pipeline is only queued
    event = event_for(order.pk)
    barrier = threading.Barrier(8)
    answers: list[str] = []
    lock = threading.Lock()

    def by_webhook():
        try:
            barrier.wait()
            said = answer(deliver(Client(), event))["status"]
        finally:
            connections.close_all()
        with lock:
            answers.append(said)

    def by_reconciliation():
        try:
            barrier.wait()
            said = payment_reconcile(order_id=order.pk).transition or "nothing"
        finally:
            connections.close_all()
        with lock:
            answers.append(said)

    threads = [threading.Thread(target=work) for work in (by_webhook, by_reconciliation) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    order = Order.objects.get(pk=order.pk)
    assert order.state == "paid"
    assert order.events.filter(transition="payment_approved").count() == 1
    assert answers.count("processed") + answers.count("payment_approved") == 1, answers
    assert PaymentWebhookEvent.objects.get(event_id=event.id).unwanted == ""
