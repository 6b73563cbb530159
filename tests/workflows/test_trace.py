"""The order's trace, as staff read it (GET /api/orders/{id}/trace; the admin's Trace page shows the
same entries): every transition, every provider call as the store saw it, callbacks, refunds,
notifications, staff's notes, in time order and in words, each with the request id behind it."""
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Order
from orders.services.address import address_check_key, order_address
from tests.conftest import CARD_APPROVE, CARD_DECLINE, CARD_TIMEOUT_ONCE, SHIPPING
from tests.payment_events import CARD_PENDING, deliver, event_for
from tests.review_rules import rule_create
from workflows.models import Hold
from workflows.policy.selectors import policy_for_order
from workflows.review.holds import holds_expire
from workflows.trace import order_trace

LATENCY = re.compile(r" in \d+ ms")


def place(api, *, card: str, zip_code: str = "62701", request_id: str) -> Order:
    response = api.post("/api/orders", {"items": [{"productId": "prod-002", "quantity": 1}],
                                        "shipping": {**SHIPPING, "zip": zip_code}, "payment": {"card": card}},
                        format="json", headers={"X-Request-ID": request_id})
    assert response.status_code == 201, response.content
    return Order.objects.get(pk=response.json()["id"])


def trace(staff_api, order: Order) -> list[dict]:
    order.refresh_from_db()
    response = staff_api.get(f"/api/orders/{order.pk}/trace")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["order"], body["number"], body["state"]) == (order.pk, order.number, order.state)
    return body["entries"]


def calls(entries: list[dict], provider: str | None = None) -> list[dict]:
    return [entry for entry in entries if entry["kind"] == "provider_call"
            and (provider is None or entry["call"]["provider"] == provider)]


def texts(entries: list[dict], kind: str) -> list[str]:
    return [entry["text"] for entry in entries if entry["kind"] == kind]


def assert_in_words(order: Order, entries: list[dict]) -> None:
    """In time order, each provider call with its latency and key, and no raw key of an event's detail."""
    assert [entry["at"] for entry in entries] == sorted(entry["at"] for entry in entries)
    for entry in calls(entries):
        assert LATENCY.search(entry["text"]) and f"key {entry['call']['key']}" in entry["text"], entry["text"]
        assert entry["call"]["latencyMs"] >= 0 and entry["call"]["attempt"] >= 1
    raw = {key for event in order.events.all() for key in event.detail if "_" in key} | {"simulated_ms"}
    for entry in entries:
        assert not [key for key in raw if key in entry["text"]], entry["text"]


@pytest.mark.usefixtures("sync_pipeline", "catalog")
def test_a_delivered_orders_trace_lists_each_call_transition_and_notification(customer_api, staff_api):
    order = place(customer_api, card=CARD_APPROVE, request_id="req-delivered")
    order.refresh_from_db()
    assert order.state == "delivered"

    entries = trace(staff_api, order)

    assert_in_words(order, entries)
    steps = [(entry["call"]["provider"], entry["call"]["operation"], entry["call"]["key"], entry["call"]["outcome"])
             for entry in calls(entries) if entry["call"]["step"]]
    assert steps == [("address", "check", address_check_key(order.pk, order_address(order)), "ok"),
                     ("inventory", "check", f"order-{order.pk}-inventory", "ok"),
                     ("risk", "score", f"order-{order.pk}-risk", "ok"),
                     ("payment", "charge", f"order-{order.pk}-charge-0", "ok"),
                     ("shipping", "label", f"order-{order.pk}-ship-0", "ok")]
    charge = calls(entries, "payment")[0]
    assert charge["text"].startswith("Payment charge approved in ")
    assert charge["text"].endswith(f" · attempt 1 · key order-{order.pk}-charge-0")
    # Each call comes before the transition its answer fired.
    said = [entry["text"] for entry in entries]
    approved = next(i for i, text in enumerate(said) if text.startswith("Payment approved (Processing payment → Paid)"))
    assert said.index(charge["text"]) < approved
    assert texts(entries, "transition")[-1].startswith("Delivered (Shipped → Delivered) · the carrier says: ")
    assert texts(entries, "evaluation") == ["Review rules asked: none enabled · passed"]
    # The customer was told, and each e-mail is a call of its own.
    notified = texts(entries, "notification")
    assert len(notified) == 4 and all("e-mail sent" in text for text in notified)
    assert {entry["call"]["key"] for entry in calls(entries, "notification")} == {
        f"order-{order.pk}-order.{event}" for event in ("created", "paid", "shipped", "delivered")}
    # One request placed it and (the pipeline running in-process) moved it to the end.
    assert {entry["requestId"] for entry in entries} == {"req-delivered"}
    placed = entries[0]
    assert (placed["kind"], placed["actor"]) == ("transition", "Customer customer@example.com")
    assert placed["text"].startswith("Order placed · total $")


@pytest.mark.usefixtures("sync_pipeline", "catalog")
def test_a_held_orders_trace_says_which_rule_held_it_why_and_what_its_deadline_did(customer_api, staff_api):
    rule_create("Big orders", "total", "gte", "1000", reason="Over $1,000", expiry_action="cancel",
                customer_message="Too late.")
    rule_create("Keyboards", "categories", "in", ["electronics"], priority=200)
    response = customer_api.post("/api/orders", {"items": [{"productId": "prod-001", "quantity": 7}],
                                                 "shipping": SHIPPING, "payment": {"card": CARD_APPROVE}},
                                 format="json", headers={"X-Request-ID": "req-held"})
    order = Order.objects.get(pk=response.json()["id"])
    Hold.objects.filter(order=order).update(deadline=timezone.now() - timedelta(minutes=1))
    holds_expire()

    entries = trace(staff_api, order)

    assert_in_words(order, entries)
    evaluation, = [entry for entry in entries if entry["kind"] == "evaluation"]
    assert evaluation["text"] == ("Review rules asked (2): Held for approval by rule “Big orders”: Order total "
                                  "($1,049.93) ≥ $1,000.00 · rule “Keyboards” also matched")
    assert evaluation["requestId"] == "req-held"
    hold, passed = texts(entries, "hold")
    assert hold.startswith("Hold: Over $1,000 (rule “Big orders”) · assigned to nobody · deadline ")
    assert hold.endswith("then: cancel it (the customer is told, stock is released)")
    assert passed == "Hold deadline passed: Cancelled at the deadline"
    assert texts(entries, "transition")[-1].startswith("Cancelled at the review deadline (Awaiting approval → "
                                                        "Cancelled)")


@pytest.mark.usefixtures("sync_pipeline", "catalog")
def test_a_declined_payment_retried_shows_each_charge_with_its_own_key(customer_api, staff_api, settings):
    order = place(customer_api, card=CARD_DECLINE, request_id="req-declined")
    order.refresh_from_db()
    assert order.state == "failed"

    entries = trace(staff_api, order)

    assert_in_words(order, entries)
    retries = policy_for_order(order).step("payment").state_retries
    charges = calls(entries, "payment")
    assert [entry["call"]["key"] for entry in charges] == [f"order-{order.pk}-charge-{n}" for n in range(retries + 1)]
    assert all(entry["call"]["outcome"] == "declined" for entry in charges)
    assert all(f": generic_decline (soft decline): {order.failure_reason} · attempt 1 · key" in entry["text"]
               for entry in charges)
    transitions = texts(entries, "transition")
    assert transitions.count("Retry payment (Payment failed → Processing payment)") == retries
    assert transitions[-1].startswith("Give up on payment (Payment failed → Failed)")


@pytest.mark.usefixtures("sync_pipeline", "catalog")
def test_a_charge_that_timed_out_then_answered_shows_both_attempts_of_its_key(customer_api, staff_api):
    order = place(customer_api, card=CARD_TIMEOUT_ONCE, request_id="req-timeout")

    charges = calls(trace(staff_api, order), "payment")

    assert [(entry["call"]["key"], entry["call"]["attempt"], entry["call"]["outcome"]) for entry in charges] == [
        (f"order-{order.pk}-charge-0", 1, "timeout"), (f"order-{order.pk}-charge-0", 2, "ok")]
    assert charges[0]["text"].startswith("Payment charge timed out in ")
    assert "the payment provider did not answer (test card 0119) · attempt 1" in charges[0]["text"]


@pytest.mark.usefixtures("sync_pipeline", "catalog")
def test_a_3d_secure_orders_trace_shows_the_pending_charge_and_the_callback_that_settled_it(
    customer_api, staff_api, client
):
    order = place(customer_api, card=CARD_PENDING, request_id="req-3ds")
    event = event_for(order.pk)
    assert deliver(client, event, signature="sign").status_code == 200  # no X-Request-ID: the store makes one

    order.refresh_from_db()
    assert order.state == "delivered"
    entries = trace(staff_api, order)

    assert_in_words(order, entries)
    charge = calls(entries, "payment")[0]
    assert (charge["call"]["outcome"], charge["requestId"]) == ("pending", "req-3ds")
    assert charge["text"].startswith("Payment charge pending in ")
    assert "Waiting for the bank's confirmation" in charge["text"]
    assert texts(entries, "wait") == ["Payment pending: waiting for the bank's confirmation · provider reference "
                                      f"{event.reference}"]
    (callback,) = [entry for entry in entries if entry["kind"] == "callback" and entry["actor"] != "Carrier"]
    assert callback["text"].startswith("Payment callback (the bank approved the payment) applied: Payment approved")
    assert f"event {event.id}" in callback["text"] and f"key order-{order.pk}-charge-0" in callback["text"]
    assert callback["actor"] == "Payment provider"
    webhook_request = callback["requestId"]
    assert webhook_request and webhook_request != "req-3ds"
    approved = next(entry for entry in entries if entry["text"].startswith("Payment approved ("))
    assert approved["requestId"] == webhook_request and f"on the provider's callback {event.id}" in approved["text"]
    assert entries.index(callback) < entries.index(approved)  # the callback, then what it did
    # The shipping step ran on from the callback's request.
    assert calls(entries, "shipping")[0]["requestId"] == webhook_request


@pytest.mark.usefixtures("sync_pipeline", "catalog")
def test_a_refunded_orders_trace_shows_the_compensation_and_a_staff_refund_with_their_calls(
    customer_api, staff_api, settings
):
    undeliverable = place(customer_api, card=CARD_APPROVE, zip_code="00500", request_id="req-undeliverable")
    undeliverable.refresh_from_db()
    assert undeliverable.state == "refunded"

    entries = trace(staff_api, undeliverable)

    assert_in_words(undeliverable, entries)
    labels = calls(entries, "shipping")
    assert [entry["call"]["key"] for entry in labels] == [
        f"order-{undeliverable.pk}-ship-{n}" for n in range(policy_for_order(undeliverable).step("shipping").state_retries + 1)]
    assert all("The carrier could not create a label (ZIP 00500)" in entry["text"] for entry in labels)
    (compensation,) = [entry for entry in entries if entry["kind"] == "compensation"]
    assert compensation["actor"] == "System"
    assert compensation["text"].startswith(f"Refund (Shipping failed → Refunded) · ${undeliverable.total} · reason: "
                                           "Shipping failed: The carrier could not create a label (ZIP 00500)")
    (refund_call,) = [entry for entry in calls(entries, "payment") if entry["call"]["operation"] == "refund"]
    assert refund_call["call"]["key"] == f"order-{undeliverable.pk}-refund-1"
    assert refund_call["text"].startswith("Payment refund paid in ")

    delivered = place(customer_api, card=CARD_APPROVE, request_id="req-bought")
    response = staff_api.post(f"/api/orders/{delivered.pk}/refund", {"amount": "5.00", "reason": "Scratched box"},
                              format="json", headers={"X-Request-ID": "req-staff-refund"})
    assert response.status_code == 200, response.content
    entries = trace(staff_api, delivered)
    (refund,) = [entry for entry in entries if entry["kind"] == "refund"]
    assert refund == {**refund, "actor": "Staff staff@example.com", "requestId": "req-staff-refund"}
    assert refund["text"].startswith("Partial refund · $5.00 · reason: Scratched box · provider reference re_")
    refund_call = calls(entries, "payment")[-1]
    assert (refund_call["call"]["operation"], refund_call["requestId"]) == ("refund", "req-staff-refund")
    assert texts(entries, "notification")[-1].startswith(f"Customer notified: “Partial refund for order {delivered.number}”")
    assert entries[-1]["requestId"] in ("req-staff-refund", "")


def test_staff_notes_and_actions_are_in_the_trace_with_their_request(customer_api, staff_api, order_in_state):
    order = order_in_state("awaiting_approval")
    staff_api.post(f"/api/orders/{order.pk}/notes", {"text": "Called the customer"}, format="json",
                   headers={"X-Request-ID": "req-note"})
    staff_api.post(f"/api/orders/{order.pk}/reject", {"note": "Address looks made up", "customerMessage": ""},
                   format="json", headers={"X-Request-ID": "req-reject"})

    order.refresh_from_db()
    entries = trace(staff_api, order)

    note = next(entry for entry in entries if entry["kind"] == "staff_note")
    assert (note["text"], note["actor"], note["requestId"]) == (
        "Internal note: “Called the customer”", "Staff staff@example.com", "req-note")
    rejected = entries[-2] if entries[-1]["kind"] == "notification" else entries[-1]
    assert rejected["text"] == ("Reject (Awaiting approval → Cancelled) · reason: We could not accept this order · "
                                "internal note (staff only): “Address looks made up” · stock released")
    assert (rejected["actor"], rejected["requestId"]) == ("Staff staff@example.com", "req-reject")


@pytest.mark.usefixtures("sync_pipeline", "catalog")
def test_the_trace_reads_a_fixed_number_of_queries_however_long_it_is(customer_api):
    short = place(customer_api, card=CARD_APPROVE, request_id="req-short")
    long = place(customer_api, card=CARD_DECLINE, zip_code="62701", request_id="req-long")

    counts = []
    for order in (short, long):
        with CaptureQueriesContext(connection) as queries:
            entries = order_trace(order_id=order.pk).entries
        counts.append((len(queries), len(entries)))

    assert counts[0][0] == counts[1][0]
    assert counts[0][1] != counts[1][1]


def test_customers_and_staff_without_view_order_cannot_read_a_trace(
    customer_api, other_api, order_in_state, make_user, jwt_client
):
    order = order_in_state("paid")
    bare_staff = jwt_client(make_user("bare@example.com", is_staff=True))

    for client in (customer_api, other_api, bare_staff):  # the owner too: customers keep their timeline
        response = client.get(f"/api/orders/{order.pk}/trace")
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "permission_denied"
    assert customer_api.get(f"/api/orders/{order.pk}").status_code == 200


def test_an_order_that_does_not_exist_has_no_trace(staff_api, db):
    assert staff_api.get("/api/orders/999999/trace").status_code == 404
    assert staff_api.get(f"/api/orders/{2**63}/trace").status_code == 404


def test_the_schema_documents_the_trace(api_client, db):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/orders/{order_id}/trace"]["get"]
    assert operation["operationId"] == "orders_trace"
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    entry = schema["components"]["schemas"][ref]["properties"]["entries"]["items"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][entry]["properties"]) == {"at", "kind", "text", "actor", "requestId",
                                                                        "call"}
