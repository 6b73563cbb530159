"""POST /api/shipping/webhook: the carrier's signed tracking updates, applied once and only to the
order whose parcel they are about; every refusal a 4xx that wrote nothing, and one WARNING line."""
import json
import logging
import re
import time

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from prometheus_client import REGISTRY

from catalog.models import Product
from notifications.models import Notification
from orders.models import Order, OrderEvent, Refund, TrackingEvent
from orders.services import RefundLineRequest, refund_create
from orders.states import Actor
from providers.webhooks import SIGNATURE_HEADER, signature_header
from store.errors import ValidationFailed
from tests.tracking_events import WEBHOOK, answer, carrier_event, deliver, tracking_shown
from workflows.pipeline import RefundInFull

pytestmark = pytest.mark.django_db


@pytest.fixture
def shipped(order_in_state):
    """A shipped order (parcel TRK123); outside a committed transaction, so no pipeline run asks the carrier."""
    return order_in_state("shipped")


def warnings_of(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_each_signed_update_is_on_the_customers_timeline_and_delivered_delivers(shipped, client, customer):
    for status, where in (("in_transit", "Memphis, TN"), ("out_for_delivery", ""), ("delivered", "")):
        response = deliver(Client(enforce_csrf_checks=True),
                           carrier_event(shipped, status, description=f"Carrier says {status}", location=where))
        assert response.status_code == 200, response.content
        assert answer(response)["status"] == "processed"

    order = Order.objects.get(pk=shipped.pk)
    assert order.state == "delivered"
    assert list(TrackingEvent.objects.filter(order=order).values_list("status", "outcome", "via")) == [
        ("in_transit", "applied", "webhook"), ("out_for_delivery", "applied", "webhook"),
        ("delivered", "applied", "webhook")]
    published = list(order.events.exclude(event_type="").values_list("event_type", flat=True))
    assert published[-3:] == ["order.in_transit", "order.out_for_delivery", "order.delivered"]  # delivered once
    client.force_login(customer)
    assert tracking_shown(client, order) == ["In transit", "Out for delivery", "Delivered"]
    assert "Memphis, TN" in client.get(f"/orders/{order.pk}/").content.decode()


def test_a_redelivered_update_is_applied_once(shipped, client):
    update = carrier_event(shipped, "in_transit", event_id="trk_same")
    assert answer(deliver(client, update))["status"] == "processed"
    events = OrderEvent.objects.count()

    again = deliver(client, update)

    assert again.status_code == 200
    assert answer(again)["status"] == "duplicate"
    assert TrackingEvent.objects.filter(event_id="trk_same").count() == 1
    assert OrderEvent.objects.count() == events


def test_an_update_about_another_orders_parcel_is_ignored_and_logged(shipped, order_in_state, client, caplog):
    other = order_in_state("shipped")
    Order.objects.filter(pk=other.pk).update(tracking_number="1Z000OTHER")
    events = OrderEvent.objects.count()
    caplog.set_level(logging.INFO)

    response = deliver(client, carrier_event(shipped, "delivered", tracking_number="1Z000OTHER"))

    assert response.status_code == 200
    assert answer(response)["status"] == "ignored" and "1Z000OTHER" in answer(response)["detail"]
    assert shipped.tracking_number not in response.content.decode()  # the order's own parcel is not echoed
    assert Order.objects.get(pk=shipped.pk).state == "shipped"
    assert Order.objects.get(pk=other.pk).state == "shipped"
    assert OrderEvent.objects.count() == events
    assert list(TrackingEvent.objects.values_list("order_id", "outcome")) == [(shipped.pk, "ignored")]
    logged = warnings_of(caplog)
    assert len(logged) == 1 and logged[0].name == "orders.tracking" and "1Z000OTHER" in logged[0].getMessage()


def test_updates_out_of_order_are_kept_and_the_transition_decides(shipped, client, customer):
    assert answer(deliver(client, carrier_event(shipped, "delivered")))["state"] == "delivered"

    late = deliver(client, carrier_event(shipped, "out_for_delivery", occurred_at=int(time.time()) - 60))

    assert late.status_code == 200
    assert answer(late) == {"status": "ignored", "detail": "ignored: order is delivered", "order": shipped.pk,
                            "state": "delivered"}
    assert Order.objects.get(pk=shipped.pk).state == "delivered"
    assert list(TrackingEvent.objects.order_by("id").values_list("status", "outcome")) == [("delivered", "applied"),
                                                                                          ("out_for_delivery", "ignored")]
    client.force_login(customer)
    assert tracking_shown(client, shipped) == ["Delivered"]


def test_an_exception_leaves_the_order_shipped_tells_the_customer_and_a_delivery_clears_it(
        shipped, client, customer, admin_client):
    response = deliver(client, carrier_event(shipped, "exception", description="Address not found"))

    assert answer(response)["state"] == "shipped"
    notice = Notification.objects.get(order=shipped, event_type__startswith="order.delivery_exception")
    assert "Address not found." in notice.body and "contact you" in notice.body
    attention = admin_client.get("/admin/orders/order/attention/").content.decode()
    assert "Address not found" in attention and shipped.tracking_number in attention
    client.force_login(customer)
    page = client.get(f"/orders/{shipped.pk}/").content.decode()
    assert "The carrier could not deliver: Address not found. The shop will contact you." in page

    assert answer(deliver(client, carrier_event(shipped, "delivered")))["state"] == "delivered"
    assert shipped.number not in admin_client.get("/admin/orders/order/attention/").content.decode()


def test_after_updates_out_of_order_the_customer_and_staff_read_the_same_latest_update(
        shipped, client, customer, admin_client):
    now = int(time.time())
    deliver(client, carrier_event(shipped, "exception", description="Address not found", occurred_at=now))
    deliver(client, carrier_event(shipped, "in_transit", description="Left the hub", occurred_at=now - 600))

    client.force_login(customer)
    page = client.get(f"/orders/{shipped.pk}/").content.decode()
    attention = admin_client.get("/admin/orders/order/attention/").content.decode()

    assert tracking_shown(client, shipped) == ["In transit", "Delivery problem"]  # as they happened
    assert "The carrier could not deliver: Address not found." in page
    assert "Address not found" in attention and shipped.tracking_number in attention


def test_the_exception_email_goes_out(shipped, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, carrier_event(shipped, "exception", description="Address not found"))

    assert [message.subject for message in mail.outbox] == [f"A delivery problem with order {shipped.number}"]


def _sign(body: bytes, **kwargs) -> str:
    return signature_header(body, **{"secret": settings.CARRIER_WEBHOOK_SECRET, **kwargs})


REFUSALS = {
    # name: (status, code, how the request is spoiled: body → (body, header or None))
    "missing header": (400, "missing_signature", lambda body: (body, None)),
    "garbled header": (400, "bad_signature", lambda body: (body, "v1=abc")),
    "signed with the payment provider's secret": (
        400, "bad_signature", lambda body: (body, signature_header(body, secret=settings.PAYMENT_WEBHOOK_SECRET))),
    "body changed after signing": (400, "bad_signature",
                                   lambda body: (body.replace(b"in_transit", b"delivered"), _sign(body))),
    "stale timestamp": (400, "stale_signature", lambda body: (body, _sign(body, timestamp=int(time.time()) - 301))),
    # Well past the 300 s tolerance: the clock's second may turn between signing and the check.
    "future timestamp": (400, "stale_signature", lambda body: (body, _sign(body, timestamp=int(time.time()) + 360))),
    "non-ASCII signature": (400, "bad_signature", lambda body: (body, f"t={int(time.time())},v1=\u00e9\u00e9")),
    "Arabic-Indic digits as signature": (400, "bad_signature",
                                         lambda body: (body, f"t={int(time.time())},v1=" + "\u0661" * 64)),
    "malformed JSON": (400, "malformed_event", lambda body: (b'{"id": "trk_1", "type":', None)),
    "occurred after year 9999": (400, "malformed_event",
                                 lambda body: (re.sub(rb'"occurred_at": \d+', b'"occurred_at": 253402300800', body), None)),
    "NUL in the event id": (400, "malformed_event",
                            lambda body: (body.replace(b'"id": "trk_', b'"id": "trk_\\u0000'), None)),
    "NUL in the description": (400, "malformed_event",
                               lambda body: (body.replace(b'"description": "', b'"description": "a\\u0000b'), None)),
    "lone surrogate in the location": (400, "malformed_event",
                                       lambda body: (body.replace(b'"location": "', b'"location": "\\ud800'), None)),
    "no tracking number": (400, "malformed_event",
                           lambda body: (body.replace(b'"tracking_number": "TRK123"', b'"tracking_number": ""'), None)),
    "unknown order": (404, "not_found", lambda body: (body.replace(b'"order_id": ', b'"order_id": 99'), None)),
}


def _refused(code: str) -> float:
    return REGISTRY.get_sample_value("store_tracking_webhook_refused_total", {"code": code}) or 0.0


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refused_delivery_writes_nothing_and_is_logged_and_counted(case, shipped, client, caplog):
    status, code, spoil = REFUSALS[case]
    body, header = spoil(carrier_event(shipped, "in_transit").body())
    if header is None and code in ("malformed_event", "not_found"):
        header = _sign(body)  # authentic, but not an update of this shop's
    events, counted = OrderEvent.objects.count(), _refused(code)
    caplog.set_level(logging.INFO)

    response = client.post(WEBHOOK, data=body, content_type="application/json",
                           headers={SIGNATURE_HEADER: header} if header is not None else {})

    assert response.status_code == status, response.content
    assert set(answer(response)) == {"error", "code"} and answer(response)["code"] == code
    logged = warnings_of(caplog)
    assert len(logged) == 1, [record.getMessage() for record in logged]
    assert logged[0].name == "orders.tracking" and f"({code})" in logged[0].getMessage()
    assert settings.CARRIER_WEBHOOK_SECRET not in caplog.text
    assert (OrderEvent.objects.count(), TrackingEvent.objects.count()) == (events, 0)
    assert Order.objects.get(pk=shipped.pk).state == "shipped"
    assert _refused(code) == counted + 1


def test_an_event_type_the_store_does_not_handle_is_answered_and_ignored(shipped, client):
    body = json.dumps({"id": "trk_label_voided", "type": "label.voided", "created": int(time.time()),
                       "data": {"order_id": shipped.pk}}).encode()

    response = deliver(client, body)

    assert response.status_code == 200, response.content
    assert answer(response)["status"] == "ignored" and "label.voided" in answer(response)["detail"]
    assert not TrackingEvent.objects.exists() and Order.objects.get(pk=shipped.pk).state == "shipped"


def test_the_carriers_secret_is_its_own_and_derived_from_secret_key():
    assert len(settings.CARRIER_WEBHOOK_SECRET) == 64
    assert settings.CARRIER_WEBHOOK_SECRET != settings.PAYMENT_WEBHOOK_SECRET
    assert settings.SECRET_KEY not in settings.CARRIER_WEBHOOK_SECRET


def test_an_update_that_overtakes_the_label_is_refused_then_applied_when_sent_again(order_in_state, client):
    shipping = order_in_state("shipping")  # the carrier made the label; the order has not recorded it yet
    update = carrier_event(shipping, "in_transit", tracking_number="1Z000EARLY")

    early = deliver(client, update)

    assert early.status_code == 409, early.content
    assert answer(early)["code"] == "no_parcel_yet"
    assert not TrackingEvent.objects.exists()
    Order.objects.filter(pk=shipping.pk).update(state="shipped", tracking_number="1Z000EARLY")
    assert answer(deliver(client, update))["status"] == "processed"  # the carrier's retry, same event id


def _stock() -> int:
    return Product.objects.get(public_id="prod-001").stock


def test_while_a_parcel_comes_back_only_the_store_refunds_and_nothing_is_restocked_twice(
        shipped, client, staff_api, admin_client):
    deliver(client, carrier_event(shipped, "returned_to_sender", description="Returned to sender"))
    order = Order.objects.get(pk=shipped.pk)
    assert order.state == "returning"
    back, line = _stock(), order.lines.get()

    api = staff_api.post(f"/api/orders/{order.pk}/refund", {
        "reason": "Back", "lines": [{"lineId": line.pk, "quantity": line.quantity}], "restock": True}, format="json")
    page = admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    admin = admin_client.post(f"/admin/orders/order/{order.pk}/refund/", {
        "reason": "Back", "idempotency_key": "k1", "amount": str(order.refundable_amount),
        "initial-amount": str(order.refundable_amount)}, follow=True)

    assert api.status_code == 409 and api.json()["code"] == "refund_under_way", api.content
    assert "refunding what is left in full itself" in api.json()["error"]
    assert 'class="order-refund"' not in page  # the order page offers no refund form
    said = [str(message) for message in admin.context["messages"]]
    assert any("refunding what is left in full itself" in text for text in said), said
    order.refresh_from_db()
    assert (order.state, order.refunded_amount, _stock()) == ("returning", 0, back)
    assert not Refund.objects.filter(order=order).exists()


def test_units_already_back_in_stock_are_never_restocked_by_a_refund(shipped, client):
    deliver(client, carrier_event(shipped, "returned_to_sender", description="Returned to sender"))
    order, back = Order.objects.get(pk=shipped.pk), _stock()
    line = order.lines.get()

    with pytest.raises(ValidationFailed, match="back in stock already"):
        refund_create(order=order, amount=None, reason="Returned", actor_kind=Actor.SYSTEM,
                      lines=[RefundLineRequest(line.pk, line.quantity)], restock=True)

    assert _stock() == back and not Refund.objects.filter(order=order).exists()


def test_a_parcel_returned_after_a_staff_refund_goes_back_in_stock_once_and_the_trace_says_so(
        shipped, client, staff_api, admin_client):
    sold = _stock()
    assert staff_api.post(f"/api/orders/{shipped.pk}/refund", {"reason": "Customer asked"},
                          format="json").status_code == 200

    first = deliver(client, carrier_event(shipped, "returned_to_sender", description="Returned to sender"))
    again = deliver(client, carrier_event(shipped, "returned_to_sender", description="Returned again"))

    assert answer(first)["status"] == "processed" and "back in stock" in answer(first)["detail"]
    assert answer(again)["status"] == "ignored"
    order = Order.objects.get(pk=shipped.pk)
    assert (order.state, order.stock_status) == ("refunded", "returned")
    assert _stock() == sold + order.lines.get().quantity
    trace = admin_client.get(f"/admin/orders/order/{order.pk}/trace/").content.decode()
    assert "stock returned" in trace


def test_a_returned_order_after_a_partial_refund_says_the_same_total_on_the_page_and_in_the_email(
        shipped, client, staff_api, customer):
    line = shipped.lines.get()
    assert staff_api.post(f"/api/orders/{shipped.pk}/refund", {
        "reason": "One scratched", "lines": [{"lineId": line.pk, "quantity": 1}]}, format="json").status_code == 200
    deliver(client, carrier_event(shipped, "returned_to_sender", description="Refused by recipient"))
    client.force_login(customer)
    returning = client.get(f"/orders/{shipped.pk}/").content.decode()

    RefundInFull("Returned to sender").run(Order.objects.get(pk=shipped.pk))  # the pipeline's step

    order = Order.objects.get(pk=shipped.pk)
    page = client.get(f"/orders/{order.pk}/").content.decode()
    notice = Notification.objects.get(order=order, event_type="order.returned")
    assert order.state == "returned" and order.refunded_amount == order.total
    assert "your refund follows" in returning and "Estimated delivery" not in returning
    assert f"${order.total} refunded in all" in page and f"${order.total} in all" in notice.body
    assert "your refund follows" not in page and "Estimated delivery" not in page
