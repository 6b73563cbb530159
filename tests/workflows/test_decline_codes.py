"""Decline codes: a hard decline is charged once and ends the order at once, a soft one is retried
as the order's workflow version says; the customer reads what to do, staff read the code.
In-process pipeline (django-q2's sync mode), the real webhook and reconciliation."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from notifications.models import Notification
from orders.models import Next, Order
from orders.services.payment_pending import PAYMENT_PENDING_EVENT
from orders.services.payment_reconcile import payment_reconcile
from providers.declines import DECLINES
from providers.models import GatewayCall, ProviderCall
from providers.registry import payment_provider
from providers.simulated import RANDOM_DECLINE_CODES, TEST_CARDS
from providers.webhooks import DECLINED
from tests.conftest import CARD_APPROVE, CARD_DECLINE
from tests.payment_events import CARD_PENDING_DECLINE, answer, bank_answered, deliver, event_for, pending_charge
from tests.review_rules import rule_create
from tests.workflow_versions import version_publish_with
from workflows.confirmation import payment_expired_reason
from workflows.models import RuleEvaluation
from workflows.policy.selectors import policy_for_order
from workflows.tasks import pipeline_run
from workflows.trace import order_trace

CARD_OF = {code: number for number, code in TEST_CARDS.items()}
HARD = sorted(code for code, decline in DECLINES.items() if not decline.retryable)
ADVICE = {code: decline.advice for code, decline in DECLINES.items()}


def charges(order: Order) -> tuple[int, int]:
    """(the store's charge calls, the simulated bank's ledger of charges) of the order."""
    return (ProviderCall.objects.filter(order_id=order.pk, provider="payment", operation="charge").count(),
            GatewayCall.objects.filter(order_id=order.pk, gateway="payment", operation="charge").count())


def test_the_hard_codes_are_those_the_networks_never_approve_again():
    assert HARD == ["do_not_honor", "expired_card", "incorrect_cvc", "lost_card", "stolen_card"]
    assert {"insufficient_funds", "try_again_later", "generic_decline"} <= {
        code for code, decline in DECLINES.items() if decline.retryable}
    assert set(CARD_OF) >= set(DECLINES) - {"authentication_required"}  # a test card for every bank code


@pytest.mark.parametrize("code", HARD)
def test_a_hard_decline_makes_one_charge_call_and_ends_the_order_at_once(sync_pipeline, customer, place_order, code):
    order = Order.objects.get(pk=place_order(customer, card=CARD_OF[code]).pk)

    assert charges(order) == (1, 1)
    assert (order.state, order.payment_retries) == ("failed", 0)
    assert (order.failure_reason, order.decline_code) == (ADVICE[code], code)
    assert list(order.events.filter(source_state="paying").values_list("transition", flat=True)) == [
        "payment_declined_hard"]
    told = Notification.objects.get(order=order, event_type="order.failed")
    assert told.body.startswith(f"We could not complete order {order.number}: {ADVICE[code]} No charge was made. "
                                f"{Next.ANOTHER_CARD.advice} Try again: ")
    assert code not in told.body and code not in mail.outbox[-1].body


def test_the_customer_is_never_told_the_card_was_stolen(sync_pipeline, customer, place_order):
    lost, stolen = (Order.objects.get(pk=place_order(customer, card=CARD_OF[code]).pk)
                    for code in ("lost_card", "stolen_card"))
    assert lost.failure_reason == stolen.failure_reason == ADVICE["do_not_honor"]
    assert not any(word in ADVICE[code].lower() for code in DECLINES for word in ("stolen", "lost", "fraud"))


def test_a_soft_decline_is_retried_as_the_workflow_version_says(sync_pipeline, customer, place_order):
    order = Order.objects.get(pk=place_order(customer, card=CARD_OF["insufficient_funds"]).pk)
    retries = policy_for_order(order).step("payment").state_retries

    assert retries == 2  # fixtures/workflow.yaml
    assert charges(order) == (1 + retries, 1 + retries)
    assert (order.state, order.payment_retries) == ("failed", retries)
    assert (order.failure_reason, order.decline_code) == (ADVICE["insufficient_funds"], "insufficient_funds")
    assert order.events.filter(transition="payment_declined").count() == 1 + retries
    assert order.events.filter(transition="abandon_payment").exists()


def test_a_version_without_state_retries_charges_a_soft_decline_once(sync_pipeline, customer, place_order, staff_user):
    version_publish_with({"steps.payment.stateRetries": 0}, actor=staff_user)
    order = Order.objects.get(pk=place_order(customer, card=CARD_OF["insufficient_funds"]).pk)

    assert charges(order) == (1, 1)
    assert order.state == "failed"


def test_the_generic_decline_card_keeps_declining_every_attempt_with_its_code(sync_pipeline, customer, place_order):
    order = Order.objects.get(pk=place_order(customer, card=CARD_DECLINE).pk)

    assert charges(order) == (3, 3)
    assert (order.state, order.decline_code, order.failure_reason) == (
        "failed", "generic_decline", ADVICE["generic_decline"])


def test_try_again_later_is_approved_when_the_pipeline_asks_again(sync_pipeline, customer, place_order):
    order = Order.objects.get(pk=place_order(customer, card=CARD_OF["try_again_later"]).pk)

    assert charges(order) == (2, 2)
    assert (order.state, order.payment_retries) == ("delivered", 1)
    assert (order.failure_reason, order.decline_code) == ("", "")  # approved: nothing left to tell
    declined = order.events.get(transition="payment_declined")
    assert declined.detail["decline_code"] == "try_again_later"


def test_a_card_without_behaviour_that_draws_a_decline_draws_a_soft_code(db, settings):
    settings.SIMULATOR = {**settings.SIMULATOR, "PAYMENT_APPROVE_RATE": 0.0, "PAYMENT_DECLINE_RATE": 1.0}
    gateway = payment_provider()
    results = [gateway.charge(key=f"draw-{n}", order_id=n, token=gateway.tokenize("4111111111111111").token,
                              amount=Decimal("5.00"), timeout=1) for n in range(40)]

    # Soft only: the pipeline's retry may still be approved, as before codes; hard ones have their cards.
    assert set(RANDOM_DECLINE_CODES) == {"insufficient_funds", "try_again_later", "generic_decline"}
    assert {result.code for result in results} == set(RANDOM_DECLINE_CODES)
    assert all(not result.ok and (result.reason, result.retryable) == (ADVICE[result.code], True)
               for result in results)


# --- a pending charge the bank declines later ---------------------------------------------------

def test_a_pending_charge_declined_hard_by_the_webhook_is_not_retried(sync_pipeline, customer, place_order, client):
    order = place_order(customer, card=CARD_PENDING_DECLINE)

    response = deliver(client, event_for(order.pk, DECLINED, code="stolen_card", reason="Stolen card, pick up"))

    assert answer(response)["state"] == "failed"
    order = Order.objects.get(pk=order.pk)
    assert (order.decline_code, order.failure_reason, order.payment_retries) == (
        "stolen_card", ADVICE["stolen_card"], 0)  # the store's advice, never the bank's words
    assert charges(order) == (1, 1)


def test_a_pending_charge_declined_soft_by_the_webhook_is_retried(sync_pipeline, customer, place_order, client):
    order = place_order(customer, card=CARD_PENDING_DECLINE)
    event = event_for(order.pk, DECLINED, code="authentication_required")

    assert answer(deliver(client, event))["state"] == "payment_failed"
    order = Order.objects.get(pk=order.pk)
    assert (order.state, order.charge_key) == ("paying", f"order-{order.pk}-charge-1")  # retried: it waits again
    declined = order.events.get(transition="payment_declined")
    assert (declined.detail["decline_code"], declined.detail["reason"]) == (
        "authentication_required", ADVICE["authentication_required"])


def test_reconciliation_settles_a_hard_decline_without_a_retry(sync_pipeline, customer, place_order):
    order = place_order(customer, card=CARD_PENDING_DECLINE)
    call = bank_answered(order.pk)
    call.result["data"]["bank"]["code"] = "expired_card"
    call.save(update_fields=["result"])

    found = payment_reconcile(order_id=order.pk)

    assert (found.transition, found.state) == ("payment_declined_hard", "failed")
    order = Order.objects.get(pk=order.pk)
    assert (order.decline_code, order.failure_reason) == ("expired_card", ADVICE["expired_card"])
    assert pending_charge(order.pk).idempotency_key == f"order-{order.pk}-charge-0"  # no second charge


def test_reconciliation_of_a_decline_without_a_code_tells_the_customer_the_generic_advice(
    sync_pipeline, customer, place_order, client
):
    order = place_order(customer, card=CARD_PENDING_DECLINE)
    call = bank_answered(order.pk)
    call.result["data"]["bank"].update(code="", reason="stolen card - pick up")  # the bank's words, no code
    call.save(update_fields=["result"])

    found = payment_reconcile(order_id=order.pk)

    assert found.transition == "payment_declined"  # no code: a generic decline, soft
    declined = Order.objects.get(pk=order.pk).events.get(transition="payment_declined")
    assert (declined.detail["reason"], declined.detail["decline_code"], declined.detail["bank_reason"]) == (
        ADVICE["generic_decline"], "generic_decline", "stolen card - pick up")
    client.force_login(customer)
    seen = [client.get(f"/orders/{order.pk}/").content.decode(), *(message.body for message in mail.outbox),
            *Notification.objects.filter(order=order).values_list("body", flat=True)]
    assert not any("stolen" in text.lower() for text in seen)
    assert any("the bank said “stolen card - pick up” (staff only)" in entry.text
               for entry in order_trace(order_id=order.pk).entries)


def test_a_soft_decline_then_an_expiry_keeps_no_decline_code(sync_pipeline, customer, place_order, client,
                                                              shop_staff):
    order = place_order(customer, card=CARD_PENDING_DECLINE)
    assert answer(deliver(client, event_for(order.pk, DECLINED, code="authentication_required")))["state"] == (
        "payment_failed")  # retried: the next charge waits for the bank, which never answers
    late = timezone.now() - timedelta(seconds=policy_for_order(order).confirmation_timeout + 1)
    Order.objects.filter(pk=order.pk).update(charge_pending_since=late)
    Order.objects.get(pk=order.pk).events.filter(event_type=PAYMENT_PENDING_EVENT).update(created_at=late)

    assert pipeline_run(order.pk) == "failed"

    order = Order.objects.get(pk=order.pk)
    assert order.events.filter(transition="payment_expired").exists()
    assert (order.decline_code, order.failure_reason) == ("", payment_expired_reason(
        policy_for_order(order).confirmation_timeout))
    staff = Client()
    staff.force_login(shop_staff)
    page = staff.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert 'data-testid="decline-code"' not in page and "authentication_required (soft" not in page
    assert order.events.get(transition="payment_declined").detail["decline_code"] == "authentication_required"


def test_the_simulated_bank_declines_a_pending_3ds_charge_as_authentication_required(
    sync_pipeline, customer, place_order
):
    order = place_order(customer, card=CARD_PENDING_DECLINE)
    bank_answered(order.pk)

    status = payment_provider().charge_status(key=f"order-{order.pk}-charge-0")

    assert (status.status, status.code, status.retryable, status.reason) == (
        "declined", "authentication_required", True, ADVICE["authentication_required"])


# --- who reads what ---------------------------------------------------------------------------

def test_the_customer_reads_advice_and_staff_read_the_code(sync_pipeline, customer, place_order, client,
                                                           customer_api, staff_api):
    order = place_order(customer, card=CARD_OF["stolen_card"])
    advice = ADVICE["stolen_card"]

    client.force_login(customer)
    page = client.get(f"/orders/{order.pk}/").content.decode()
    assert f"{advice.rstrip('.')} · no charge was made" in page and "stolen" not in page.lower()
    mine = customer_api.get(f"/api/orders/{order.pk}").json()
    assert mine["failureReason"] == advice and "stolen_card" not in str(mine)

    staff = staff_api.get(f"/api/orders/{order.pk}").json()
    assert any(entry["detail"].get("decline_code") == "stolen_card" for entry in staff["timeline"])
    trace = [entry.text for entry in order_trace(order_id=order.pk).entries]
    assert any("Payment charge declined" in text and "stolen_card (hard decline)" in text for text in trace)
    assert any("Payment declined, not retried" in text and "decline code stolen_card" in text for text in trace)


def test_a_hard_decline_counts_for_the_customers_next_order(sync_pipeline, customer, place_order):
    rule_create("Declined lately", "declines_30d", "gte", 1)

    place_order(customer, card=CARD_OF["stolen_card"])
    after = Order.objects.get(pk=place_order(customer, card=CARD_APPROVE).pk)

    assert after.state == "awaiting_approval"
    assert RuleEvaluation.objects.get(order=after).facts["declines_30d"] == 1
