"""Helpers for tests of the payment webhook: the pending charge of an order and signed deliveries."""
import json
import time
import uuid

from providers.models import GatewayCall
from providers.webhooks import APPROVED, SIGNATURE_HEADER, PaymentEvent, signature_header

CARD_PENDING = "4000 0000 0000 3220"
CARD_PENDING_DECLINE = "4000 0000 0000 3238"
WEBHOOK = "/api/payments/webhook"


def pending_charge(order_id: int) -> GatewayCall:
    """The order's latest charge the simulator answered "pending"."""
    return GatewayCall.objects.filter(order_id=order_id, gateway="payment", operation="charge",
                                      outcome="pending").latest("id")


def bank_answered(order_id: int) -> GatewayCall:
    """The simulated bank has settled the order's pending charge (its `settles_at` passed; the
    tests' callbacks are off, so no event was sent): charge_status now says what it answered."""
    call = pending_charge(order_id)
    call.result["data"]["bank"]["settles_at"] = time.time() - 1
    call.save(update_fields=["result"])
    return call


def event_for(order_id: int, kind: str = APPROVED, **fields) -> PaymentEvent:
    """An event settling the order's pending charge (as the simulator would send it)."""
    call = pending_charge(order_id)
    values = {"id": f"evt_{uuid.uuid4().hex[:24]}", "type": kind, "created": int(time.time()), "order_id": order_id,
              "key": call.idempotency_key, "reference": call.result["reference"],
              "reason": "" if kind == APPROVED else "The bank did not confirm the payment"}
    return PaymentEvent(**{**values, **fields})


def event_about(order_id: int, *, key: str, reference: str, kind: str = APPROVED) -> PaymentEvent:
    """A signed-to-be event for order `order_id` about the charge `key` / `reference`, whatever its order."""
    return PaymentEvent(id=f"evt_{uuid.uuid4().hex[:24]}", type=kind, created=int(time.time()), order_id=order_id,
                        key=key, reference=reference,
                        reason="" if kind == APPROVED else "The bank did not confirm the payment")


def deliver(client, body: bytes | PaymentEvent, *, signature: str | None = "sign", timestamp: int | None = None):
    """POST a body to the webhook; `signature`: "sign" to sign it now (or at `timestamp`), None for
    no header, else the header as given."""
    body = body.body() if isinstance(body, PaymentEvent) else body
    headers = {}
    if signature == "sign":
        headers[SIGNATURE_HEADER] = signature_header(body, timestamp=timestamp)
    elif signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return client.post(WEBHOOK, data=body, content_type="application/json", headers=headers)


def answer(response) -> dict:
    return json.loads(response.content)
