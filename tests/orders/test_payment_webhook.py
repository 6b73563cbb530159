"""POST /api/payments/webhook: signed events from the payment provider, applied once; every refusal
a 4xx in the API's error shape and one WARNING line saying why."""
import json
import logging
import re
import time

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from orders.models import Order, OrderEvent, PaymentWebhookEvent
from providers.declines import GENERIC_DECLINE
from providers.webhooks import APPROVED, DECLINED, SIGNATURE_HEADER, PaymentEvent, signature_header
from tests.payment_events import WEBHOOK, answer, deliver
from workflows.trace import order_trace

pytestmark = pytest.mark.django_db


@pytest.fixture
def paying(order_in_state):
    """An order in `paying` whose charge the provider answered pending with reference txn_webhook1."""
    order = order_in_state("paying")
    Order.objects.filter(pk=order.pk).update(charge_pending_reference="txn_webhook1")
    return order


def event(order_id: int, kind: str = APPROVED, event_id: str = "evt_0001", **fields) -> PaymentEvent:
    return PaymentEvent(**{"id": event_id, "type": kind, "created": int(time.time()), "order_id": order_id,
                           "key": f"order-{order_id}-charge-0", "reference": "txn_webhook1",
                           "reason": "" if kind == APPROVED else "Declined by the bank", **fields})


def warnings_of(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_an_approval_fires_payment_approved_without_session_jwt_or_csrf(paying):
    response = deliver(Client(enforce_csrf_checks=True), event(paying.pk))

    assert response.status_code == 200, response.content
    assert answer(response) == {"status": "processed", "detail": "payment_approved: order is paid",
                                "order": paying.pk, "state": "paid"}
    order = Order.objects.get(pk=paying.pk)
    assert (order.state, order.transaction_id) == ("paid", "txn_webhook1")
    kept = PaymentWebhookEvent.objects.get(event_id="evt_0001")
    assert (kept.order_id, kept.outcome, kept.order_state, kept.transition) == (paying.pk, "applied", "paying",
                                                                               "payment_approved")


def test_a_decline_without_a_code_fires_payment_declined_with_the_generic_advice(paying, client):
    response = deliver(client, event(paying.pk, DECLINED))

    assert response.status_code == 200, response.content
    order = Order.objects.get(pk=paying.pk)
    assert (order.state, order.failure_reason, order.decline_code) == (
        "payment_failed", GENERIC_DECLINE.advice, "generic_decline")


@pytest.mark.parametrize("code", ["", None])
def test_the_banks_own_words_never_reach_the_customer(paying, client, customer, customer_api, staff_api, code):
    """A decline without a code whose reason is the bank's words: the customer reads the generic
    advice on their page, in the e-mail and on the API; staff read the words on the event and trace."""
    sent = event(paying.pk, DECLINED, reason="stolen card - pick up")
    body = json.loads(sent.body())
    if code is None:  # the provider sent no `code` at all
        del body["data"]["code"]
    body = json.dumps(body).encode()

    assert answer(deliver(client, body))["state"] == "payment_failed"

    order = Order.objects.get(pk=paying.pk)
    assert (order.failure_reason, order.decline_code) == (GENERIC_DECLINE.advice, "generic_decline")
    client.force_login(customer)
    seen = [client.get(f"/orders/{order.pk}/").content.decode(), json.dumps(customer_api.get(
        f"/api/orders/{order.pk}").json()), *(message.body for message in mail.outbox)]
    assert not any("stolen" in text.lower() for text in seen)
    assert PaymentWebhookEvent.objects.get(event_id=sent.id).payload["reason"] == "stolen card - pick up"
    declined = order.events.get(transition="payment_declined")
    assert declined.detail["bank_reason"] == "stolen card - pick up"
    assert "stolen" not in json.dumps(declined.customer_detail)
    staff = staff_api.get(f"/api/orders/{order.pk}").json()
    assert any(entry["detail"].get("bank_reason") == "stolen card - pick up" for entry in staff["timeline"])
    assert any("the bank said “stolen card - pick up” (staff only)" in entry.text
               for entry in order_trace(order_id=order.pk).entries)


def test_a_replayed_event_answers_200_and_changes_nothing(paying, client):
    first = event(paying.pk)
    assert deliver(client, first).status_code == 200
    counts = (OrderEvent.objects.count(), PaymentWebhookEvent.objects.count())
    transitions = list(OrderEvent.objects.filter(order=paying).values_list("transition", flat=True))

    # The same event again, signed anew (a provider's redelivery), and once more as a decline.
    again = deliver(client, first, timestamp=int(time.time()) + 1)
    changed = deliver(client, event(paying.pk, DECLINED))

    for response in (again, changed):
        assert response.status_code == 200, response.content
        assert answer(response) == {"status": "duplicate", "detail": "Event evt_0001 was already processed.",
                                    "order": paying.pk, "state": "paid"}
    assert (OrderEvent.objects.count(), PaymentWebhookEvent.objects.count()) == counts
    assert list(OrderEvent.objects.filter(order=paying).values_list("transition", flat=True)) == transitions
    assert Order.objects.get(pk=paying.pk).state == "paid"


def test_an_event_for_an_order_no_longer_paying_is_kept_and_ignored(order_in_state, client, caplog):
    order = order_in_state("shipped")
    events = order.events.count()
    caplog.set_level(logging.INFO)

    response = deliver(client, event(order.pk, DECLINED))

    assert response.status_code == 200
    assert answer(response) == {"status": "ignored", "detail": "ignored: order is shipped", "order": order.pk,
                                "state": "shipped"}
    assert Order.objects.get(pk=order.pk).events.count() == events
    assert PaymentWebhookEvent.objects.get(event_id="evt_0001").outcome == "ignored"
    assert warnings_of(caplog) == []


def test_an_event_type_the_store_does_not_handle_is_answered_and_ignored(paying, client):
    response = deliver(client, event(paying.pk, "payment.disputed"))

    assert response.status_code == 200
    assert answer(response)["status"] == "ignored"
    assert Order.objects.get(pk=paying.pk).state == "paying"


def _sign(body: bytes, **kwargs) -> str:
    return signature_header(body, **kwargs)


REFUSALS = {
    # name: (status, code, how the request is spoiled: body → (body, header or None))
    "missing header": (400, "missing_signature", lambda body: (body, None)),
    "empty header": (400, "missing_signature", lambda body: (body, " ")),
    "garbled header": (400, "bad_signature", lambda body: (body, "v1=abc")),
    "wrong secret": (400, "bad_signature", lambda body: (body, _sign(body, secret="not-the-shop-secret"))),
    "body changed after signing": (400, "bad_signature",
                                   lambda body: (body.replace(b"txn_webhook1", b"txn_forged01"), _sign(body))),
    "stale timestamp": (400, "stale_signature", lambda body: (body, _sign(body, timestamp=int(time.time()) - 301))),
    # Well past the 300 s tolerance: the clock's second may turn between signing and the check.
    "future timestamp": (400, "stale_signature", lambda body: (body, _sign(body, timestamp=int(time.time()) + 360))),
    "non-ASCII signature": (400, "bad_signature", lambda body: (body, f"t={int(time.time())},v1=\u00e9\u00e9")),
    "Arabic-Indic digits as signature": (400, "bad_signature",
                                         lambda body: (body, f"t={int(time.time())},v1=" + "\u0661" * 64)),
    "created after year 9999": (400, "malformed_event",
                                lambda body: (re.sub(rb'"created": \d+', b'"created": 253402300800', body), None)),
    "NUL in the event id": (400, "malformed_event",
                            lambda body: (body.replace(b'"id": "evt_', b'"id": "evt_\\u0000'), None)),
    "NUL in the reason": (400, "malformed_event",
                          lambda body: (body.replace(b'"reason": "', b'"reason": "a\\u0000b'), None)),
    "malformed JSON": (400, "malformed_event", lambda body: (b'{"id": "evt_1", "type":', _sign(b'{"id": "evt_1", "type":'))),
    "not an event": (400, "malformed_event", lambda body: (b"[1, 2]", _sign(b"[1, 2]"))),
    "order id not a number": (400, "malformed_event",
                              lambda body: (body.replace(b'"order_id": ', b'"order_id": "x", "was": '), None)),
    "unknown order": (404, "not_found", lambda body: (body.replace(b'"order_id": ', b'"order_id": 99'), None)),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refused_delivery_is_a_json_error_and_one_warning_naming_why(case, paying, client, caplog):
    status, code, spoil = REFUSALS[case]
    body, header = spoil(event(paying.pk).body())
    if header is None and code in ("malformed_event", "not_found"):
        header = _sign(body)  # authentic, but not an event of this shop
    events = OrderEvent.objects.count()
    caplog.set_level(logging.INFO)

    response = client.post(WEBHOOK, data=body, content_type="application/json",
                           headers={SIGNATURE_HEADER: header} if header is not None else {})

    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert set(answer(response)) == {"error", "code"} and answer(response)["code"] == code
    logged = warnings_of(caplog)
    assert len(logged) == 1, [record.getMessage() for record in logged]
    assert logged[0].name == "orders.payment_webhook" and f"({code})" in logged[0].getMessage()
    assert settings.PAYMENT_WEBHOOK_SECRET not in caplog.text
    assert OrderEvent.objects.count() == events
    # Genuine but stale (a clock off): kept on the order as refused, for staff; nothing else is.
    kept = list(PaymentWebhookEvent.objects.values_list("event_id", "outcome", "order_id"))
    assert kept == ([("evt_0001", "refused", paying.pk)] if code == "stale_signature" else [])
    assert Order.objects.get(pk=paying.pk).state == "paying"


def test_the_default_secret_is_derived_from_secret_key_and_not_the_key_itself():
    assert len(settings.PAYMENT_WEBHOOK_SECRET) == 64
    assert settings.SECRET_KEY not in settings.PAYMENT_WEBHOOK_SECRET


def test_a_header_with_several_signatures_passes_when_one_matches(paying, client):
    body = event(paying.pk).body()
    good = _sign(body, timestamp=int(time.time()))
    timestamp, signature = good.split(",")
    header = f"{timestamp},v1={'0' * 64},{signature}"  # signed with the old and the new secret while rotating

    response = client.post(WEBHOOK, data=body, content_type="application/json", headers={SIGNATURE_HEADER: header})

    assert response.status_code == 200, response.content
    assert json.loads(response.content)["state"] == "paid"


def test_the_order_admin_page_lists_the_webhook_events(paying, client, admin_client):
    deliver(client, event(paying.pk))

    page = admin_client.get(f"/admin/orders/order/{paying.pk}/change/")

    assert page.status_code == 200
    assert "evt_0001" in page.content.decode() and "payment.approved" in page.content.decode()


def test_the_provider_is_never_refused_for_volume(paying, client, settings):
    # The API's per-address limits do not apply: a 429 could make the provider give up on an
    # event before the payment's deadline. Every request still has its signature checked.
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "API": "2/min", "API_BURST": "2/min"}
    statuses = {client.post(WEBHOOK, data=b"{}", content_type="application/json").status_code for _ in range(5)}
    assert statuses == {400}
    assert answer(deliver(client, event(paying.pk)))["status"] == "processed"
