"""Helpers for tests of the carrier's tracking: signed deliveries to its webhook, and what the
customer's order page shows of them."""
import json
import re
import time
import uuid

from django.conf import settings

from orders.models import Order
from providers.webhooks import SIGNATURE_HEADER, TRACKING_UPDATED, CarrierEvent, signature_header

WEBHOOK = "/api/shipping/webhook"
ADDRESS_NOT_FOUND_ZIP = "00404"
RETURN_TO_SENDER_ZIP = "00303"


def carrier_event(order: Order, status: str, *, event_id: str = "", tracking_number: str | None = None,
                  occurred_at: int | None = None, description: str = "", location: str = "") -> CarrierEvent:
    """An update of `order`'s parcel as the carrier sends it (its own parcel unless `tracking_number`)."""
    now = int(time.time())
    return CarrierEvent(id=event_id or f"trk_{uuid.uuid4().hex[:24]}", type=TRACKING_UPDATED, created=now,
                        order_id=order.pk,
                        tracking_number=order.tracking_number if tracking_number is None else tracking_number,
                        status=status, occurred_at=now if occurred_at is None else occurred_at,
                        description=description, location=location)


def deliver(client, body: bytes | CarrierEvent, *, signature: str | None = "sign", timestamp: int | None = None,
            secret: str | None = None):
    """POST a body to the carrier's webhook; `signature`: "sign" to sign it now (or at `timestamp`)
    with the carrier's secret (or `secret`), None for no header, else the header as given."""
    body = body.body() if isinstance(body, CarrierEvent) else body
    headers = {}
    if signature == "sign":
        headers[SIGNATURE_HEADER] = signature_header(body, timestamp=timestamp,
                                                     secret=secret or settings.CARRIER_WEBHOOK_SECRET)
    elif signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return client.post(WEBHOOK, data=body, content_type="application/json", headers=headers)


def answer(response) -> dict:
    return json.loads(response.content)


def tracking_shown(client, order: Order) -> list[str]:
    """The tracking updates the customer's order page lists, as it labels them ("In transit"…)."""
    page = client.get(f"/orders/{order.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    return re.findall(r'<li class="timeline__update" data-tracking="[a-z_]+"><strong>([^<]+)</strong>', html)
