"""Reconciliation: ask the payment provider what became of a charge instead of guessing.

A pending payment waits for the provider's webhook; when the webhook does not come (refused as
stale because a clock is off, lost on the way), `payment_reconcile` asks the provider
(PaymentProvider.charge_status, through the payment circuit, with
PAYMENT_RECONCILE["TIMEOUT"]) about the charge the order waits for: approved fires
`payment_approved`, declined `payment_declined` (the transitions the webhook fires, under the
order's row lock, so an approval applied by both settles the order once); still pending or
unknown changes nothing (the order expires at its deadline, as without reconciliation).

The pipeline asks before a pending payment expires (workflows.confirmation), a schedule asks
for every payment pending longer than PAYMENT_RECONCILE["AFTER_SECONDS"]
(workflows.tasks.payments_reconcile), and staff ask with "Check with the provider" on the order.

`unwanted_charge_settle` deals with an approval the order did not want (PaymentWebhookEvent
`unwanted`): if the provider says the charge is real, it is refunded in full by a key derived
from the charge's (`<charge key>-void`), so asking twice refunds once.
"""
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orders.models import Order, PaymentWebhookEvent
from orders.services.transitions import order_ready_on_commit, order_transition
from orders.states import OrderState
from providers import breakers
from providers.base import (
    CHARGE_APPROVED,
    CHARGE_DECLINED,
    CHARGE_PENDING,
    ChargeStatus,
    GatewayTimeout,
)
from providers.registry import payment_provider

logger = logging.getLogger("orders.payment_reconcile")

UNREACHABLE = "unreachable"  # no answer: the provider timed out or its circuit is open
NOTHING = "nothing"  # the order waits for no charge
DECLINED_DEFAULT_REASON = "The bank did not confirm the payment"


@dataclass(frozen=True)
class Reconciliation:
    """What asking the provider found (`found`: a CHARGE_* status, UNREACHABLE or NOTHING), the
    transition it fired ("" for none), the order's state after it, and a sentence for staff."""

    found: str
    transition: str
    state: str
    message: str


def _charge_status(provider_name: str, *, key: str, reference: str) -> ChargeStatus | None:
    """The provider's answer through the payment circuit; None when it is open or the call timed out."""
    if not breakers.allow("payment"):
        return None
    try:
        status = payment_provider(provider_name).charge_status(
            key=key, reference=reference, timeout=settings.PAYMENT_RECONCILE["TIMEOUT"])
    except GatewayTimeout as exc:
        breakers.failed("payment", str(exc))
        logger.warning("payment provider did not answer a status lookup of charge %s: %s", key, exc)
        return None
    breakers.succeeded("payment")
    return status


def payment_reconcile(*, order_id: int, hand_back: bool = True, asked_by: str = "") -> Reconciliation:
    """Ask the provider about the charge order `order_id` waits for and settle the order by its answer.

    `hand_back`: after a transition, queue the order's pipeline run (False when the pipeline
    itself asks and goes on). `asked_by`: who asked (staff's e-mail), kept on the transition's event.
    Never raises for the provider: no answer is UNREACHABLE."""
    order = Order.objects.get(pk=order_id)
    if order.state != OrderState.PAYING or not order.charge_key:
        return Reconciliation(NOTHING, "", order.state, f"Order {order.number} is "
                              f"{order.get_state_display().lower()}: it waits for no payment.")
    key = order.charge_key
    status = _charge_status(order.payment_provider, key=key, reference=order.charge_pending_reference)
    if status is None:
        return Reconciliation(UNREACHABLE, "", order.state, "The payment provider did not answer; "
                              "the order keeps waiting and is asked about again.")
    if status.status == CHARGE_APPROVED and not status.refunded:
        name, arguments = "payment_approved", {"transaction_id": status.reference}
    elif status.status in (CHARGE_APPROVED, CHARGE_DECLINED):  # refunded at the provider: not paid
        name, arguments = "payment_declined", {"reason": status.reason or DECLINED_DEFAULT_REASON}
    else:
        waiting = "still waits for the bank" if status.status == CHARGE_PENDING else "has no such charge"
        return Reconciliation(status.status, "", order.state, f"The provider {waiting} (charge {key}); "
                              "the order keeps waiting until its deadline.")
    detail = {"step": "payment", "reconciled": key, **({"asked_by": asked_by} if asked_by else {})}
    with transaction.atomic():
        # The webhook holds this lock while it applies an event: one of the two settles the order.
        locked = Order.objects.select_for_update().get(pk=order_id)
        if locked.state != OrderState.PAYING or locked.charge_key != key:
            return Reconciliation(status.status, "", locked.state, f"The provider says {status.status}; the order "
                                  f"was settled meanwhile and is {locked.get_state_display().lower()}.")
        settled = order_transition(order_id=order_id, name=name, only_from=OrderState.PAYING, detail=detail,
                                   **arguments)
        if hand_back:
            order_ready_on_commit(order_id)
    logger.info("payment of order %s reconciled with the provider: %s (%s)", order_id, status.status, name,
                extra={"order_id": order_id})
    return Reconciliation(status.status, name, settled.state, f"The provider says the charge was {status.status}: "
                          f"order {settled.number} is {settled.get_state_display().lower()}.")


def unwanted_charge_settle(*, event_id: int) -> str:
    """Ask the provider about the unwanted approval PaymentWebhookEvent `event_id` and refund it when
    it is real; returns where it stands (PaymentWebhookEvent.Unwanted: open when the provider
    did not answer or the bank has not settled it, asked again later)."""
    event = PaymentWebhookEvent.objects.select_related("order").get(pk=event_id)
    if event.unwanted != PaymentWebhookEvent.Unwanted.OPEN:
        return event.unwanted
    order, key, reference = event.order, event.payload.get("key", ""), event.payload.get("reference", "")
    status = _charge_status(order.payment_provider, key=key, reference=reference) if key else None
    outcome, refund_reference = PaymentWebhookEvent.Unwanted.OPEN, ""
    if status is not None and status.status == CHARGE_APPROVED and status.refunded:
        outcome = PaymentWebhookEvent.Unwanted.REFUNDED
    elif status is not None and status.status == CHARGE_APPROVED:
        try:
            amount = Decimal(status.amount) if status.amount else order.total
        except InvalidOperation:
            amount = order.total
        try:
            refund = payment_provider(order.payment_provider).refund(
                key=f"{key}-void", order_id=order.pk, transaction_id=status.reference, amount=amount,
                timeout=settings.PAYMENT_RECONCILE["TIMEOUT"])
        except GatewayTimeout as exc:
            logger.warning("refund of unwanted charge %s of order %s did not go through: %s", reference, order.pk,
                           exc, extra={"order_id": order.pk})
        else:
            outcome, refund_reference = PaymentWebhookEvent.Unwanted.REFUNDED, refund.reference
            logger.warning("unwanted charge %s (%s) of order %s refunded at the provider: %s", reference, key,
                           order.pk, refund.reference, extra={"order_id": order.pk})
    elif status is not None and status.status != CHARGE_PENDING:  # declined or unknown: nothing held
        outcome = PaymentWebhookEvent.Unwanted.NOT_CHARGED
    (PaymentWebhookEvent.objects.filter(pk=event.pk, unwanted=PaymentWebhookEvent.Unwanted.OPEN)
     .update(unwanted=outcome, refund_reference=refund_reference, checked_at=timezone.now()))
    return outcome
