"""What customers and staff do to an existing order: cancel, approve, reject, retry, refund."""
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F

from orders.models import Order, OrderEvent, Refund
from orders.services.idempotency import replay_of, request_fingerprint
from orders.services.transitions import TransitionRefused, order_transition
from orders.states import (
    CANCELLABLE_STATES,
    SHOP_CANCELLED_TEXT,
    SHOP_REJECTED_TEXT,
    WORKING_STATES,
    Actor,
    OrderState,
)
from providers.simulated import payment_gateway
from store.errors import PermissionRefused, ValidationFailed
from store.request_context import request_id_var

S = OrderState


def _staff_note(note: str) -> dict | None:
    """The event detail that keeps staff's internal note (orders.models.OrderEvent.STAFF_ONLY_DETAIL)."""
    note = (note or "").strip()
    return {"note": note} if note else None


def order_cancel(
    *, order: Order, actor, actor_kind: str = Actor.CUSTOMER, customer_message: str = "", note: str = ""
) -> Order:
    """Cancel an order that has not been paid for (new, validated or awaiting approval).

    `customer_message` is what the customer is shown and e-mailed (the order's failure_reason;
    a neutral default without one); staff's `note` stays on the order's timeline for staff.
    """
    name = "cancel_order" if order.state == S.NEW else "cancel_validated"
    if order.state not in CANCELLABLE_STATES:
        raise TransitionRefused(
            f"Order {order.number} is {order.get_state_display().lower()} and can no longer be cancelled."
        )
    default = "Cancelled by the customer" if actor_kind == Actor.CUSTOMER else SHOP_CANCELLED_TEXT
    return order_transition(
        order_id=order.pk, name=name, actor=actor, actor_kind=actor_kind,
        reason=(customer_message or "").strip() or default, detail=_staff_note(note),
    )


def _not_own(order: Order, actor, verb: str) -> None:
    """Staff never decide on their own orders: a review rule or a refund needs a second person."""
    if actor is not None and order.owner_id == actor.pk:
        raise PermissionRefused(f"You cannot {verb} your own order {order.number}; ask a colleague.")


def order_approve(*, order: Order, actor) -> Order:
    """Release a held order to payment (not by its own customer: PermissionRefused)."""
    _not_own(order, actor, "approve")
    return order_transition(order_id=order.pk, name="approve", actor=actor, actor_kind=Actor.STAFF)


def order_reject(*, order: Order, actor, customer_message: str = "", note: str = "") -> Order:
    """Refuse a held order: it is cancelled and its stock released (not by its own customer).

    The customer sees `customer_message` (or a neutral default), never staff's `note`.
    """
    _not_own(order, actor, "reject")
    return order_transition(
        order_id=order.pk, name="reject", actor=actor, actor_kind=Actor.STAFF,
        reason=(customer_message or "").strip() or SHOP_REJECTED_TEXT, detail=_staff_note(note),
    )


def order_retry(*, order: Order, actor) -> Order:
    """Retry the order's current step: a failed payment or shipment, or a stuck working step."""
    from workflows.tasks import pipeline_enqueue

    if order.state == S.PAYMENT_FAILED:
        return order_transition(order_id=order.pk, name="retry_payment", actor=actor, actor_kind=Actor.STAFF)
    if order.state == S.SHIP_FAILED:
        return order_transition(order_id=order.pk, name="retry_shipping", actor=actor, actor_kind=Actor.STAFF)
    if order.state in WORKING_STATES:
        transaction.on_commit(lambda: pipeline_enqueue(order_id=order.pk), robust=True)
        return order
    raise TransitionRefused(f"Order {order.number} is {order.get_state_display().lower()}; there is nothing to retry.")


@dataclass(frozen=True)
class RefundResult:
    refund: Refund
    created: bool  # False: a replay of `idempotency_key`, answered with the first refund


def refund_create(
    *, order: Order, amount: Decimal | None, reason: str, actor=None, actor_kind: str = Actor.STAFF,
    idempotency_key: str = "",
) -> RefundResult:
    """Refund part or all of what is left of an order's payment through the payment gateway.

    A refund of everything that is left fires the `refund` transition (and releases stock
    when nothing shipped); a partial refund leaves the state. Staff cannot refund their own
    orders (PermissionRefused).

    Idempotent by key, as order placement is: the same `idempotency_key` on the same order
    returns the first refund (created=False) without paying again, also when the requests
    run at once (they queue on the order's row lock); the same key with another amount or
    reason raises Unprocessable (422). Without a key, the gateway call still carries one
    derived from the order and its refund count, taken under the row lock, so a step that
    runs twice never pays out twice.
    """
    from workflows import metrics

    if actor_kind == Actor.STAFF:
        _not_own(order, actor, "refund")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("A refund needs a reason.", fields={"reason": "This field is required."})
    requested = None if amount is None else Decimal(amount).quantize(Decimal("0.01"))
    fingerprint = request_fingerprint({"amount": None if requested is None else str(requested), "reason": reason})
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if idempotency_key:
            first = replay_of(locked.refunds.filter(idempotency_key=idempotency_key).first(), fingerprint,
                              what="refund")
            if first is not None:
                return RefundResult(first, created=False)
        refundable = locked.refundable_amount
        if refundable <= 0:
            raise TransitionRefused(f"Order {locked.number} has nothing left to refund.")
        amount = refundable if requested is None else requested
        if amount <= 0:
            raise ValidationFailed("The refund amount must be positive.", fields={"amount": "Must be more than 0."})
        if amount > refundable:
            raise ValidationFailed(
                f"At most {refundable} can be refunded on order {locked.number}.",
                fields={"amount": f"At most {refundable}."},
            )
        sequence = locked.refunds.count() + 1
        result = payment_gateway.refund(
            key=f"order-{locked.pk}-refund-{sequence}",
            order_id=locked.pk,
            transaction_id=locked.transaction_id,
            amount=amount,
        )
        refund = Refund.objects.create(
            order=locked, amount=amount, reason=reason, gateway_reference=result.reference, created_by=actor,
            idempotency_key=idempotency_key, request_fingerprint=fingerprint,
        )
        Order.objects.filter(pk=locked.pk).update(refunded_amount=F("refunded_amount") + amount)
        if amount == refundable:
            order_transition(
                order_id=locked.pk,
                name="refund",
                actor=actor,
                actor_kind=actor_kind,
                detail={"amount": str(amount), "reason": reason, "reference": result.reference},
            )
        else:
            OrderEvent.objects.create(
                order=locked,
                event_type="order.partially_refunded",
                transition="",
                source_state=locked.state,
                target_state=locked.state,
                actor_kind=actor_kind,
                actor=actor,
                actor_email=getattr(actor, "email", "") or "",
                detail={"amount": str(amount), "reason": reason, "reference": result.reference},
                request_id=request_id_var.get() or "",
            )
        transaction.on_commit(lambda: metrics.refund_made(full=amount == refundable), robust=True)
    return RefundResult(refund, created=True)
