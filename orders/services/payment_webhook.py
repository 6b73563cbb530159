"""The payment provider's webhook: a signed event settles a charge it answered "pending".

`payment_webhook_receive` checks the signature (providers.webhooks), reads the event and applies
it once: `payment.approved` fires `payment_approved` (the pipeline then goes on), and
`payment.declined` fires `payment_declined` (the failed-payment path: retry, then give up), or
`payment_declined_hard` for a decline code that asking again cannot change. The customer reads the
code's advice (providers.declines; an event without a code is a `generic_decline`), never the
event's `reason`, the bank's own words, which staff read on the kept event and the order's trace. The
event is kept (PaymentWebhookEvent) in the transaction that fired the transition, so a
redelivered event changes nothing. Every refusal is logged once, at WARNING, saying why, and
counted (orders.metrics); a refused delivery whose signature is genuine but stale is kept on
its order as `refused` (staff see it), a forged one never is.

An event moves the order only when it is about the charge the order waits for: `data.key` is
the order's `charge_key`, and `data.reference` is the reference the provider answered for that
pending charge (`charge_pending_reference`). When the order does not know that reference yet
(the callback overtook the pending answer), the provider is asked (charge_status by key) and
the event is applied only if the provider confirms it, with the provider's reference. Any
other event is answered `ignored` with the reason and logged at WARNING. An event about a
charge another order holds (its charge key, pending reference or transaction id) is ignored
for this order and nothing of this order refunds it. An approval the order does not want
(another charge, or an order no longer paying for it) is kept as `unwanted`: the
reconciliation (orders.services.payment_reconcile) refunds it at the provider if the charge is
real and this order's.
"""
import logging
from dataclasses import dataclass
from typing import NoReturn

from django.db import IntegrityError, transaction

from orders import metrics
from orders.models import Order, PaymentWebhookEvent
from orders.services.payment_reconcile import charge_holder, charge_status_ask, decline_settlement
from orders.services.transitions import order_ready_on_commit, order_transition
from orders.states import OrderState
from providers.base import ChargeStatus
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
from store.request_context import request_id_var

logger = logging.getLogger("orders.payment_webhook")

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
    metrics.webhook_refused(error.code)
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
        if refusal.code == "stale_signature":
            _stale_record(body, signature, str(refusal))
        _refuse(ValidationFailed(str(refusal), code=refusal.code))
    try:
        event = payment_event_parse(body)
    except EventMalformed as problem:
        _refuse(ValidationFailed(str(problem), code="malformed_event"))
    if event.type not in EVENT_TYPES:
        logger.info("payment webhook event %s of type %s not handled", event.id, event.type)
        return WebhookAnswer("ignored", f"ignored: event type {event.type} is not handled")
    return payment_event_apply(event=event)


@dataclass(frozen=True)
class _AskProvider:
    """The event is about the charge the order waits for, whose reference the order does not know
    yet: the provider is asked (outside the order's row lock) before the event is applied."""

    provider: str


def payment_event_apply(*, event: PaymentEvent) -> WebhookAnswer:
    """Apply an authentic event once (see the module); NotFound (404) for an unknown order.

    An event for an order no longer in `paying` is kept and changes nothing; an approval of an
    order that did not take that payment (it failed or expired meanwhile) is logged at WARNING:
    the charge has to be refunded at the provider. An event about a charge another order holds
    (its key, pending reference or transaction id) is ignored for this order and never taken as
    an unwanted approval. An event whose reference is not the one the provider answered for the
    pending charge is ignored; when the order does not know that reference yet, the provider is
    asked (charge_status by key) and only what it confirms is applied, with its reference."""
    answer = _apply(event)
    if isinstance(answer, _AskProvider):
        status = charge_status_ask(answer.provider, key=event.key, reference="", order_id=event.order_id)
        answer = _apply(event, asked=True, confirmed=status)
    return answer


def _apply(event: PaymentEvent, *, asked: bool = False,
           confirmed: ChargeStatus | None = None) -> WebhookAnswer | _AskProvider:
    """One pass under the order's row lock; `asked`: the provider was asked about the event's
    charge, and `confirmed` is its answer (None when it did not answer)."""
    try:
        with transaction.atomic():
            order = Order.objects.select_for_update().filter(pk=event.order_id).first()
            if order is None:
                _refuse(NotFound(f"No order {event.order_id}.", code="not_found"), event=event)
            seen = (PaymentWebhookEvent.objects.filter(event_id=event.id)
                    .exclude(outcome=PaymentWebhookEvent.Outcome.REFUSED).first())
            if seen is not None:
                return _duplicate(event, order)
            holder = charge_holder(key=event.key, references=(event.reference,), exclude=order.pk)
            if holder is not None:
                said = f"charge {event.key or '(no key)'} ({event.reference or 'no reference'}) is not order {order.pk}'s"
                return _ignore(event, order, f"{said}: it is order {holder}'s", said=said)
            unwanted = event.type == APPROVED and not _wanted(event, order)
            if order.state != OrderState.PAYING:
                _record(event, order, PaymentWebhookEvent.Outcome.IGNORED, note=f"order is {order.state}",
                        unwanted=unwanted)
                _log_ignored(event, order, unwanted=unwanted)
                return WebhookAnswer("ignored", f"ignored: order is {order.state}", order.pk, order.state)
            if event.key != order.charge_key:
                said = f"charge {event.key or '(no key)'} is not the charge order {order.pk} waits for"
                return _ignore(event, order, f"{said} ({order.charge_key})", unwanted=unwanted, said=said)
            pending = order.charge_pending_reference
            if pending and event.reference != pending:
                said = f"reference {event.reference or '(none)'} is not the reference of the charge order {order.pk} waits for"
                return _ignore(event, order, f"{said} (charge {order.charge_key}: {pending})", said=said)
            staff_detail: dict = {}
            if event.type == APPROVED:
                name, arguments = "payment_approved", {"transaction_id": event.reference}
            else:  # the customer reads the code's advice; the bank's words stay with staff
                name, arguments, staff_detail = decline_settlement(code=event.code, bank_reason=event.reason)
            if not pending:  # the callback came before the pending answer was recorded
                if not asked:
                    return _AskProvider(order.payment_provider)
                why = _unconfirmed(event, order, confirmed)
                if why:
                    return _ignore(event, order, why)
                if event.type == APPROVED:
                    arguments = {"transaction_id": confirmed.reference}
            # Kept before the transition it fires, so the order's trace reads cause, then effect.
            _record(event, order, PaymentWebhookEvent.Outcome.APPLIED, state=order.state, transition=name)
            order = order_transition(order_id=order.pk, name=name, only_from=order.state,
                                     detail={"webhook_event": event.id, **staff_detail}, **arguments)
            # Fired for the provider, not by a step: hand the order back to the pipeline.
            order_ready_on_commit(order.pk)
    except IntegrityError:  # the same event, delivered twice at once, was kept by the other delivery
        return _duplicate(event, Order.objects.get(pk=event.order_id))
    logger.info("payment webhook event %s: order %s %s", event.id, order.pk, name, extra={"order_id": order.pk})
    return WebhookAnswer("processed", f"{name}: order is {order.state}", order.pk, order.state)


def _unconfirmed(event: PaymentEvent, order: Order, status: ChargeStatus | None) -> str:
    """Why the provider's answer `status` does not confirm `event` for `order` ("" when it does): the
    same outcome, of a charge made for this order, with the event's reference if it names one."""
    if status is None:
        return f"the provider did not confirm charge {event.key} (no answer); it is asked again later"
    said = "approved" if event.type == APPROVED else "declined"
    if status.status != said or (status.refunded and event.type == APPROVED):
        return f"the provider says charge {event.key} is {'refunded' if status.refunded else status.status}, not {said}"
    if status.order_id is not None and status.order_id != order.pk:
        return f"the provider says charge {event.key} was made for order {status.order_id}"
    if event.reference and status.reference and event.reference != status.reference:
        return f"reference {event.reference} is not the provider's reference of charge {event.key} ({status.reference})"
    if event.type == APPROVED and not status.reference:
        return f"the provider gave no reference for charge {event.key}"
    return ""


def _ignore(event: PaymentEvent, order: Order, why: str, *, unwanted: bool = False, said: str = "") -> WebhookAnswer:
    """Keep the event as ignored for `why` (the order's trace), log it at WARNING and answer
    `ignored` with `said` (default `why`): another order's id or this order's own charge is for
    staff, never echoed to the caller."""
    _record(event, order, PaymentWebhookEvent.Outcome.IGNORED, note=why, unwanted=unwanted)
    logger.warning("payment webhook event %s (%s) ignored: %s%s", event.id, event.type, why,
                   "; its approval is refunded at the provider if real" if unwanted else "",
                   extra={"order_id": order.pk})
    return WebhookAnswer("ignored", f"ignored: {said or why}", order.pk, order.state)


def _wanted(event: PaymentEvent, order: Order) -> bool:
    """Whether the order wants the charge `event` is about: the one it took, or the one it waits
    for (paying, or stalled in paying: a re-drive issues the same charge again)."""
    if order.transaction_id and order.transaction_id == event.reference:
        return True
    waiting = order.state == OrderState.PAYING or (order.state == OrderState.STALLED
                                                   and order.stalled_in == OrderState.PAYING)
    return waiting and bool(order.charge_key) and event.key == order.charge_key


def _record(event: PaymentEvent, order: Order, outcome: str, *, state: str = "", transition: str = "",
            note: str = "", unwanted: bool = False) -> None:
    """Keep the event (replacing a stale delivery of it that was refused)."""
    PaymentWebhookEvent.objects.update_or_create(event_id=event.id, defaults={
        "event_type": event.type, "order": order, "outcome": outcome, "order_state": state or order.state,
        "transition": transition, "note": note[:200],
        "unwanted": PaymentWebhookEvent.Unwanted.OPEN if unwanted else "",
        "payload": {"created": event.created, "key": event.key, "reference": event.reference, "reason": event.reason,
                    **({"code": event.code} if event.code else {})},
        "request_id": request_id_var.get() or "",
    })


def _stale_record(body: bytes, signature: str | None, why: str) -> None:
    """Keep on its order a delivery refused as stale whose signature is otherwise genuine (staff see
    the provider tried); a forged or unreadable one, or one for an unknown order, is not kept."""
    try:
        signature_verify(body, signature, tolerance=10**12)
        event = payment_event_parse(body)
    except (SignatureRefused, EventMalformed):
        return
    order = Order.objects.filter(pk=event.order_id).first()
    if order is None or event.type not in EVENT_TYPES:
        return
    try:
        with transaction.atomic():
            PaymentWebhookEvent.objects.get_or_create(event_id=event.id, defaults={
                "event_type": event.type, "order": order, "outcome": PaymentWebhookEvent.Outcome.REFUSED,
                "order_state": order.state, "note": why[:200],
                "payload": {"created": event.created, "key": event.key, "reference": event.reference,
                            "reason": event.reason, **({"code": event.code} if event.code else {})},
                "request_id": request_id_var.get() or "",
            })
    except IntegrityError:  # kept meanwhile by another delivery of the event
        pass


def _duplicate(event: PaymentEvent, order: Order) -> WebhookAnswer:
    logger.info("payment webhook event %s already processed", event.id, extra={"order_id": order.pk})
    return WebhookAnswer("duplicate", f"Event {event.id} was already processed.", order.pk, order.state)


def _log_ignored(event: PaymentEvent, order: Order, *, unwanted: bool) -> None:
    if unwanted:
        logger.warning("payment %s approved for order %s, which is %s: it is refunded at the provider if real",
                       event.reference, order.pk, order.state, extra={"order_id": order.pk})
    else:
        logger.info("payment webhook event %s ignored: order %s is %s", event.id, order.pk, order.state,
                    extra={"order_id": order.pk})
