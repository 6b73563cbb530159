"""The carrier's word about an order's parcel: tracking updates, by its webhook or when asked.

The carrier tells how a shipped order's parcel goes (providers.base.TrackingUpdate): in transit,
out for delivery, delivered, or an exception (address not found) and maybe back to the shop.
It calls `POST /api/shipping/webhook` with each (`tracking_webhook_receive`: signed with
settings.CARRIER_WEBHOOK_SECRET, as the payment provider's webhook is), and the pipeline asks it
when it has been silent too long (`tracking_reconcile`, workflows.pipeline.AwaitCarrier). Both
apply an update the same way, under the order's row lock, once per event id (TrackingEvent), so
an update the webhook brought and the lookup finds again is kept once: the webhook each in a
transaction of its own (`tracking_update_apply`), the lookup all of one answer in one.

An update for an order that has no parcel yet but may still ship (the carrier's webhook
overtook its answer to the label, which the order records when it commits) is refused with a
409 that writes nothing: the carrier sends it again later. An update is applied only to the
order whose parcel it is about (its tracking number) and only while the order is shipped: `delivered` fires `deliver_order`, `returned_to_sender` fires
`return_to_sender` (the goods go back to stock; the pipeline then refunds the payment in full);
`in_transit`, `out_for_delivery` and `exception` are recorded as an OrderEvent of their own
(EVENT_OF_STATUS: the customer's timeline, the staff's trace, the webhooks' outbox) and leave
the order shipped: one whose latest update is an exception is listed under Needs attention. An
update after the order left `shipped` (delivered, returned, refunded) is kept, ignored for state;
but a parcel returned to sender after that (staff refunded it meanwhile) still puts its units
not restocked yet back in stock, once, and the order's trace says so.
"""
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from orders import metrics
from orders.models import Order, OrderEvent, TrackingEvent
from orders.services.payment_webhook import WebhookAnswer
from orders.services.transitions import order_locked, order_ready_on_commit, order_step_failed, order_transition
from orders.signals import order_event
from orders.states import TERMINAL_STATES, OrderState, StockStatus
from orders.stock import stock_returned
from orders.workflow import tracking_lookup_timeout
from providers import breakers, registry
from providers.base import (
    DELIVERED,
    EXCEPTION,
    IN_TRANSIT,
    OUT_FOR_DELIVERY,
    RETURNED_TO_SENDER,
    TRACKING_STATUSES,
    GatewayTimeout,
    ParcelTracking,
    TrackingUpdate,
)
from providers.calls import ProviderRequest, call_recorded
from providers.webhooks import (
    TRACKING_UPDATED,
    CarrierEvent,
    EventMalformed,
    SignatureRefused,
    carrier_event_parse,
    signature_verify,
)
from store.errors import Conflict, DomainError, NotFound, ValidationFailed
from store.request_context import request_id_var

logger = logging.getLogger("orders.tracking")

DELIVERY_EXCEPTION = "order.delivery_exception"
# The published event of an update that leaves the order shipped (docs/webhooks.md).
EVENT_OF_STATUS = {
    IN_TRANSIT: "order.in_transit",
    OUT_FOR_DELIVERY: "order.out_for_delivery",
    EXCEPTION: DELIVERY_EXCEPTION,
}
# The transition an update fires (it publishes its own event: order.delivered; the return's
# order.returned once the refund is made).
TRANSITION_OF_STATUS = {DELIVERED: "deliver_order", RETURNED_TO_SENDER: "return_to_sender"}

UNREACHABLE = "unreachable"  # the carrier did not answer (timeout, or its circuit is open)
NOT_FOUND = "not_found"  # the carrier has no such tracking number
FOUND = "found"
NOTHING = "nothing"  # the order is not shipped: nothing to ask


def _refuse(error: DomainError, *, event: CarrierEvent | None = None) -> NoReturn:
    metrics.tracking_webhook_refused(error.code)
    logger.warning("tracking webhook refused (%s): %s", error.code, error.message,
                   extra={"order_id": event.order_id if event else None})
    raise error


def tracking_webhook_receive(*, body: bytes, signature: str | None) -> WebhookAnswer:
    """Verify, read and apply one delivery of the carrier's webhook: `body` the raw request body,
    `signature` the Store-Signature header (None when absent).

    Raises ValidationFailed (400; code missing_signature, bad_signature, stale_signature or
    malformed_event), NotFound (404) for an order the store does not have and NoParcelYet (409)
    for one that has not recorded its label yet; nothing is written then. Answers processed, duplicate or ignored (with why) otherwise."""
    try:
        signature_verify(body, signature, secret=settings.CARRIER_WEBHOOK_SECRET,
                         tolerance=settings.CARRIER_WEBHOOK_TOLERANCE_SECONDS)
    except SignatureRefused as refusal:
        _refuse(ValidationFailed(str(refusal), code=refusal.code))
    try:
        event = carrier_event_parse(body)
    except EventMalformed as problem:
        _refuse(ValidationFailed(str(problem), code="malformed_event"))
    if event.type != TRACKING_UPDATED:
        logger.info("tracking webhook event %s of type %s not handled", event.id, event.type)
        return WebhookAnswer("ignored", f"ignored: event type {event.type} is not handled")
    update = TrackingUpdate(id=event.id, status=event.status, occurred_at=event.occurred_at,
                            description=event.description, location=event.location)
    if not Order.objects.filter(pk=event.order_id).exists():
        _refuse(NotFound(f"No order {event.order_id}.", code="not_found"), event=event)
    try:
        return tracking_update_apply(order_id=event.order_id, tracking_number=event.tracking_number, update=update,
                                     via=TrackingEvent.Via.WEBHOOK)
    except NoParcelYet as early:
        _refuse(early, event=event)


class NoParcelYet(Conflict):
    code = "no_parcel_yet"


def tracking_update_apply(*, order_id: int, tracking_number: str, update: TrackingUpdate, via: str) -> WebhookAnswer:
    """Apply one tracking update of parcel `tracking_number` to order `order_id` once (see the
    module), whichever way it came (`via`, TrackingEvent.Via). NotFound for an unknown order;
    NoParcelYet (409, nothing written) for an order that has not recorded its label yet."""
    try:
        with transaction.atomic():
            order = _order_locked(order_id)
            if TrackingEvent.objects.filter(event_id=update.id).exists():
                return _duplicate(update, order)
            answer, order = _update_apply(update, order, tracking_number, via)
            if answer.status == "processed" and not TRANSITION_OF_STATUS.get(update.status):
                _news_noted(order)
    except IntegrityError:
        # The same update, delivered twice at once, was kept by the other delivery; any other
        # failed write (a row of what it published) kept nothing, and is the caller's.
        if not TrackingEvent.objects.filter(event_id=update.id).exists():
            raise
        return _duplicate(update, Order.objects.get(pk=order_id))
    if answer.status == "processed":
        _applied_log(update, order)
    return answer


def _order_locked(order_id: int) -> Order:
    try:
        return order_locked(order_id)
    except Order.DoesNotExist:
        raise NotFound(f"No order {order_id}.", code="not_found") from None


def _update_apply(update: TrackingUpdate, order: Order, tracking_number: str, via: str) -> tuple[WebhookAnswer, Order]:
    """Apply `update`, new to the store, to `order`, read under its row lock in the caller's
    transaction; returns the answer and the order as it left it. An update that leaves the order
    shipped does not touch its `updated_at`: the caller notes the news (`_news_noted`)."""
    if not order.tracking_number and order.state not in TERMINAL_STATES:
        raise NoParcelYet(f"Order {order.pk} has no parcel yet ({order.state}); send the update again later.")
    if not order.tracking_number or tracking_number != order.tracking_number:
        said = f"parcel {tracking_number} is not order {order.pk}'s"
        # The order's own parcel is for staff (its trace, the log), never echoed to the caller.
        return _ignore(update, order, tracking_number, via, f"{said} ({order.tracking_number or 'no parcel yet'})",
                       warn=True, said=said), order
    if update.status not in TRACKING_STATUSES:
        return _ignore(update, order, tracking_number, via, f"status {update.status} is not one the store knows",
                       warn=True), order
    if order.state != OrderState.SHIPPED:
        if update.status == RETURNED_TO_SENDER and order.stock_status == StockStatus.SOLD:
            return _late_return(update, order, tracking_number, via), order
        return _ignore(update, order, tracking_number, via, f"order is {order.state}"), order
    name = TRANSITION_OF_STATUS.get(update.status, "")
    # Kept before what it fires, so the order's trace reads cause, then effect.
    _record(update, order, tracking_number, via, TrackingEvent.Outcome.APPLIED, transition=name)
    detail = _detail(update, via)
    if name:
        arguments = {"reason": update.description} if update.status == RETURNED_TO_SENDER else {}
        order = order_transition(order_id=order.pk, name=name, only_from=OrderState.SHIPPED, detail=detail,
                                 locked=order, **arguments)
        if update.status == RETURNED_TO_SENDER:  # the pipeline refunds it
            order_ready_on_commit(order.pk)
    else:
        event = OrderEvent.objects.create(
            order=order, event_type=EVENT_OF_STATUS[update.status], source_state=order.state,
            target_state=order.state, detail=detail, request_id=request_id_var.get() or "")
        order_event.send(sender=Order, order=order, event=event)
    return WebhookAnswer("processed", f"{update.status}: order is {order.state}", order.pk, order.state), order


def _news_noted(order: Order) -> None:
    """The carrier's news: the store waits its workflow version's tracking timeout from here before asking."""
    order.updated_at = timezone.now()
    Order.objects.filter(pk=order.pk).update(updated_at=order.updated_at)


def _applied_log(update: TrackingUpdate, order: Order) -> None:
    # Logged once the transaction is done: on SQLite it holds the write lock, which every other writer waits for.
    log = logger.warning if update.status == EXCEPTION else logger.info
    log("tracking update %s of order %s: %s%s", update.id, order.pk, update.status,
        f" ({update.description})" if update.status == EXCEPTION else "", extra={"order_id": order.pk})


def _late_return(update: TrackingUpdate, order: Order, tracking_number: str, via: str) -> WebhookAnswer:
    """The parcel of an order that already left `shipped` (refunded by staff, say) came back: its
    units not restocked yet go back to stock, once (stock_status RETURNED, under the row lock the
    caller holds), and the order's trace says so; its state and money stay as they are."""
    _record(update, order, tracking_number, via, TrackingEvent.Outcome.APPLIED,
            note=f"order is {order.state}: its units went back to stock")
    stock_returned(order=order)
    order.stock_status, order.updated_at = StockStatus.RETURNED, timezone.now()
    Order.objects.filter(pk=order.pk).update(stock_status=order.stock_status, updated_at=order.updated_at)
    OrderEvent.objects.create(order=order, source_state=order.state, target_state=order.state,
                              detail={**_detail(update, via), "stock": "returned"}, request_id=request_id_var.get() or "")
    logger.warning("tracking update %s: parcel of %s order %s came back; its units went back to stock", update.id,
                   order.state, order.pk, extra={"order_id": order.pk})
    return WebhookAnswer("processed", f"{update.status}: order is {order.state}; its units are back in stock",
                         order.pk, order.state)


def _detail(update: TrackingUpdate, via: str) -> dict:
    """The OrderEvent's detail of an update (the customer reads it: the carrier's words)."""
    detail = {"tracking": update.status, "tracking_event": update.id, "occurred_at": _moment(update).isoformat(),
              "via": via}
    if update.description:
        detail["description"] = update.description
    if update.location:
        detail["location"] = update.location
    return detail


def _moment(update: TrackingUpdate) -> datetime:
    return datetime.fromtimestamp(update.occurred_at, tz=UTC)


def _record(update: TrackingUpdate, order: Order, tracking_number: str, via: str, outcome: str, *,
            transition: str = "", note: str = "") -> None:
    TrackingEvent.objects.create(
        event_id=update.id, order=order, tracking_number=tracking_number[:64], status=update.status[:40],
        description=update.description[:200], location=update.location[:100], occurred_at=_moment(update),
        via=via, outcome=outcome, order_state=order.state, note=note[:200], transition=transition,
        request_id=request_id_var.get() or "")


def _ignore(update: TrackingUpdate, order: Order, tracking_number: str, via: str, why: str, *,
            warn: bool = False, said: str = "") -> WebhookAnswer:
    """Keep the update as ignored for `why` (the order's trace, the log) and answer `ignored` with
    `said` (what the caller may read; default `why`); logged at WARNING when it is not about this
    order's parcel (a carrier's mistake, or a forged order id)."""
    _record(update, order, tracking_number, via, TrackingEvent.Outcome.IGNORED, note=why)
    (logger.warning if warn else logger.info)("tracking update %s (%s) ignored: %s", update.id, update.status, why,
                                              extra={"order_id": order.pk})
    return WebhookAnswer("ignored", f"ignored: {said or why}", order.pk, order.state)


def _duplicate(update: TrackingUpdate, order: Order) -> WebhookAnswer:
    logger.info("tracking update %s already received", update.id, extra={"order_id": order.pk})
    return WebhookAnswer("duplicate", f"Event {update.id} was already received.", order.pk, order.state)


# --- Asking the carrier -------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackingCheck:
    """What asking the carrier found (`found`: FOUND, NOT_FOUND, UNREACHABLE or NOTHING), how many
    of its updates were new to the store (`applied`) and the order's state after them (and the
    order as they left it, read under its row lock, when they were applied)."""

    found: str
    applied: int
    state: str
    order: Order | None = None


def parcel_tracking_ask(order: Order) -> ParcelTracking | None:
    """The carrier's answer about the order's parcel, through the shipping circuit (the call
    recorded for the order, its workflow version's lookup timeout); None when the circuit is open
    or the call timed out."""
    if not breakers.allow("shipping"):
        return None
    carrier = registry.provider("shipping")
    number = order.tracking_number
    try:
        answer = call_recorded(ProviderRequest("shipping", "tracking", number, order.pk), lambda: carrier.tracking(
            tracking_number=number, timeout=tracking_lookup_timeout(order)))
    except GatewayTimeout as exc:
        breakers.failed("shipping", str(exc))
        logger.warning("carrier did not answer a tracking lookup of %s: %s", number, exc, extra={"order_id": order.pk})
        return None
    breakers.succeeded("shipping")
    return answer


def tracking_reconcile(*, order: Order) -> TrackingCheck:
    """Ask the carrier about shipped `order`'s parcel (as the pipeline last read it) and apply
    every update it has that the store has not (oldest first; as the webhook would, under the
    row lock, all of one answer in one transaction). Never raises for the carrier: no answer is
    UNREACHABLE and changes nothing but the count of unanswered asks (`step_failures`, set back
    to 0 by the next answer)."""
    if order.state != OrderState.SHIPPED or not order.tracking_number:
        return TrackingCheck(NOTHING, 0, order.state)
    answer = parcel_tracking_ask(order)
    if answer is None:  # counted (step_failures) until the carrier answers: the next ask waits longer
        order_step_failed(order_id=order.pk, state=OrderState.SHIPPED)
        return TrackingCheck(UNREACHABLE, 0, order.state)
    # Not skipped when the order held shows none: another run may have counted one since.
    Order.objects.filter(pk=order.pk, state=OrderState.SHIPPED, step_failures__gt=0).update(step_failures=0)
    if not answer.found:
        logger.warning("carrier has no parcel %s (order %s)", order.tracking_number, order.pk,
                       extra={"order_id": order.pk})
        return TrackingCheck(NOT_FOUND, 0, order.state)
    known = _known(answer.updates)
    updates = sorted((update for update in answer.updates if update.id not in known),
                     key=lambda update: update.occurred_at)
    if not updates:
        return TrackingCheck(FOUND, 0, Order.objects.filter(pk=order.pk).values_list("state", flat=True).get())
    try:
        applied, order = _updates_apply(order.pk, order.tracking_number, updates)
    except IntegrityError:  # one of them was kept meanwhile, not under this order's lock: each on its own
        applied, order = _updates_apply_each(order.pk, order.tracking_number, updates)
    return TrackingCheck(FOUND, applied, order.state, order)


def _known(updates: list[TrackingUpdate]) -> set[str]:
    return set(TrackingEvent.objects.filter(event_id__in=[update.id for update in updates])
               .values_list("event_id", flat=True))


def _updates_apply(order_id: int, tracking_number: str, updates: list[TrackingUpdate]) -> tuple[int, Order]:
    """Apply `updates` (oldest first) in one transaction under the order's row lock, each once;
    returns how many were applied and the order as they left it."""
    applied, news, done = 0, False, []
    with transaction.atomic():
        order = _order_locked(order_id)
        known = _known(updates)  # again under the lock: a webhook's delivery may have kept one meanwhile
        for update in updates:
            if update.id in known:
                _duplicate(update, order)
                continue
            known.add(update.id)
            answer, order = _update_apply(update, order, tracking_number, TrackingEvent.Via.LOOKUP)
            if answer.status == "processed":
                applied += 1
                news = not TRANSITION_OF_STATUS.get(update.status)  # a transition wrote updated_at itself
                done.append(update)
        if news:
            _news_noted(order)
    for update in done:
        _applied_log(update, order)
    return applied, order


def _updates_apply_each(order_id: int, tracking_number: str, updates: list[TrackingUpdate]) -> tuple[int, Order]:
    applied = 0
    for update in updates:
        result = tracking_update_apply(order_id=order_id, tracking_number=tracking_number, update=update,
                                       via=TrackingEvent.Via.LOOKUP)
        applied += result.status == "processed"
    return applied, Order.objects.get(pk=order_id)
