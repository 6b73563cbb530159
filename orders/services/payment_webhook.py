"""The payment provider's webhook: a signed event settles a charge it answered "pending".

`payment_webhook_receive` checks the signature (providers.webhooks), reads the event and applies
it once: `payment.approved` fires `payment_approved` (the pipeline then goes on), and
`payment.declined` fires `payment_declined` (the failed-payment path: retry, then give up). The
event is kept (PaymentWebhookEvent) in the transaction that fired the transition, so a
redelivered event changes nothing. Every refusal is logged once, at WARNING, saying why.
"""
import logging
from dataclasses import dataclass
from typing import NoReturn

from django.db import IntegrityError, transaction

from orders.models import Order, PaymentWebhookEvent
from orders.services.transitions import order_ready_on_commit, order_transition
from orders.states import PAID_STATES, OrderState
from providers.webhooks import (
    APPROVED,
    EVENT_TYPES,
    EventMalformed,
    PaymentEvent,
    SignatureRefused,
    payment_event_parse,
    signature_verify,
)
from store.errors import DomainError, NotFound, ValidationFailed

logger = logging.getLogger("orders.payment_webhook")

DECLINED_DEFAULT_REASON = "The bank did not confirm the payment"


@dataclass(frozen=True)
class WebhookAnswer:
    """What the webhook answers (HTTP 200): `status` processed, duplicate or ignored, a sentence,
    and the order with its state after the event (None for an event type not handled)."""

    status: str
    detail: str
    order_id: int | None = None
    state: str | None = None

    def as_dict(self) -> dict:
        return {"status": self.status, "detail": self.detail, "order": self.order_id, "state": self.state}


def _refuse(error: DomainError, *, event: PaymentEvent | None = None) -> NoReturn:
    logger.warning("payment webhook refused (%s): %s", error.code, error.message,
                   extra={"order_id": event.order_id if event else None})
    raise error


def payment_webhook_receive(*, body: bytes, signature: str | None) -> WebhookAnswer:
    """Verify, read and apply one delivery: `body` the raw request body, `signature` the
    Store-Signature header (None when absent).

    Raises ValidationFailed (400; code missing_signature, bad_signature, stale_signature or
    malformed_event) and NotFound (404) for an order the store does not have."""
    try:
        signature_verify(body, signature)
    except SignatureRefused as refusal:
        _refuse(ValidationFailed(str(refusal), code=refusal.code))
    try:
        event = payment_event_parse(body)
    except EventMalformed as problem:
        _refuse(ValidationFailed(str(problem), code="malformed_event"))
    if event.type not in EVENT_TYPES:
        logger.info("payment webhook event %s of type %s not handled", event.id, event.type)
        return WebhookAnswer("ignored", f"ignored: event type {event.type} is not handled")
    return payment_event_apply(event=event)


def payment_event_apply(*, event: PaymentEvent) -> WebhookAnswer:
    """Apply an authentic event once (see the module); NotFound (404) for an unknown order.

    An event for an order no longer in `paying` is kept and changes nothing; an approval of an
    order that did not take that payment (it failed or expired meanwhile) is logged at WARNING:
    the charge has to be refunded at the provider."""
    try:
        with transaction.atomic():
            order = Order.objects.select_for_update().filter(pk=event.order_id).first()
            if order is None:
                _refuse(NotFound(f"No order {event.order_id}.", code="not_found"), event=event)
            seen = PaymentWebhookEvent.objects.filter(event_id=event.id).first()
            if seen is not None:
                return _duplicate(event, order)
            if order.state != OrderState.PAYING:
                _record(event, order, PaymentWebhookEvent.Outcome.IGNORED)
                _log_ignored(event, order)
                return WebhookAnswer("ignored", f"ignored: order is {order.state}", order.pk, order.state)
            if event.type == APPROVED:
                name, arguments = "payment_approved", {"transaction_id": event.reference}
            else:
                name, arguments = "payment_declined", {"reason": event.reason or DECLINED_DEFAULT_REASON}
            source = order.state
            order = order_transition(order_id=order.pk, name=name, only_from=source,
                                     detail={"webhook_event": event.id}, **arguments)
            _record(event, order, PaymentWebhookEvent.Outcome.APPLIED, state=source, transition=name)
            # Fired for the provider, not by a step: hand the order back to the pipeline.
            order_ready_on_commit(order.pk)
    except IntegrityError:  # the same event, delivered twice at once, was kept by the other delivery
        return _duplicate(event, Order.objects.get(pk=event.order_id))
    logger.info("payment webhook event %s: order %s %s", event.id, order.pk, name, extra={"order_id": order.pk})
    return WebhookAnswer("processed", f"{name}: order is {order.state}", order.pk, order.state)


def _record(event: PaymentEvent, order: Order, outcome: str, *, state: str = "", transition: str = "") -> None:
    PaymentWebhookEvent.objects.create(
        event_id=event.id, event_type=event.type, order=order, outcome=outcome, order_state=state or order.state,
        transition=transition, payload={"created": event.created, "key": event.key, "reference": event.reference,
                                        "reason": event.reason},
    )


def _duplicate(event: PaymentEvent, order: Order) -> WebhookAnswer:
    logger.info("payment webhook event %s already processed", event.id, extra={"order_id": order.pk})
    return WebhookAnswer("duplicate", f"Event {event.id} was already processed.", order.pk, order.state)


def _log_ignored(event: PaymentEvent, order: Order) -> None:
    taken = order.state in PAID_STATES and order.transaction_id == event.reference
    if event.type == APPROVED and not taken:
        logger.warning("payment %s approved for order %s, which is %s: refund it at the provider",
                       event.reference, order.pk, order.state, extra={"order_id": order.pk})
    else:
        logger.info("payment webhook event %s ignored: order %s is %s", event.id, order.pk, order.state,
                    extra={"order_id": order.pk})
