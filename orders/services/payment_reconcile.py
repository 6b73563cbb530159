"""Reconciliation: ask the payment provider what became of a charge instead of guessing.

A pending payment waits for the provider's webhook; when the webhook does not come (refused as
stale because a clock is off, lost on the way), `payment_reconcile` asks the provider
(PaymentProvider.charge_status, through the payment circuit, with
PAYMENT_RECONCILE["TIMEOUT"]) about the charge the order waits for: approved fires
`payment_approved`, declined `payment_declined`, or `payment_declined_hard` for a hard decline
(`decline_settlement`: the transitions the webhook fires, the customer reading the decline code's
advice and never the provider's words, under the order's row lock, so an
approval applied by both settles the order once); still pending or unknown changes nothing (the
order expires at its deadline, as without reconciliation).

The pipeline asks before a pending payment expires (workflows.confirmation), a schedule asks
for every payment pending longer than the current workflow version says
(workflows.tasks.payments_reconcile), and staff ask with "Check with the provider" on the order.

`unwanted_charge_settle` deals with an approval the order did not want (PaymentWebhookEvent
`unwanted`): it is refunded in full by a key derived from the charge's (`<charge key>-void`, so
asking twice refunds once) only when the provider says the charge is real, approved, not
refunded and made for this order (ChargeStatus.order_id), and no order holds it (`charge_holder`:
no order waits for its key or pending reference, none took its transaction id). Otherwise it
is left alone: `not_ours`, for staff to look at.
"""
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.db.models import Q
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
from providers.calls import ProviderRequest, call_recorded
from providers.declines import decline_for
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


def decline_settlement(*, code: str, bank_reason: str = "") -> tuple[str, dict, dict]:
    """(transition, its arguments, its staff-only detail) for a charge the bank declined with
    `code` ("" when it gave none: `generic_decline`): `payment_declined`, which the pipeline retries
    as the order's workflow version says, or `payment_declined_hard` when asking again cannot change
    the answer (a hard decline, providers.declines). The customer reads the code's advice, never
    `bank_reason` (the words the provider sent, e.g. "stolen card - pick up"): staff read those in
    the detail (`bank_reason`) and the decline code."""
    decline = decline_for(code)
    name = "payment_declined" if decline.retryable else "payment_declined_hard"
    bank_reason = bank_reason.strip()
    said = {"bank_reason": bank_reason[:200]} if bank_reason and bank_reason != decline.advice else {}
    return name, {"reason": decline.advice, "decline_code": decline.code}, said


def charge_status_ask(provider_name: str, *, key: str, reference: str, order_id: int | None) -> ChargeStatus | None:
    """The provider's answer through the payment circuit (the call recorded for order `order_id`);
    None when it is open or the call timed out."""
    if not breakers.allow("payment"):
        return None
    provider = payment_provider(provider_name)
    try:
        status = call_recorded(ProviderRequest("payment", "charge_status", key, order_id), lambda: provider.charge_status(
            key=key, reference=reference, timeout=settings.PAYMENT_RECONCILE["TIMEOUT"]))
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
    status = charge_status_ask(order.payment_provider, key=key, reference=order.charge_pending_reference,
                               order_id=order.pk)
    if status is None:
        return Reconciliation(UNREACHABLE, "", order.state, "The payment provider did not answer; "
                              "the order keeps waiting and is asked about again.")
    staff_detail: dict = {}
    if status.status == CHARGE_APPROVED and not status.refunded:
        name, arguments = "payment_approved", {"transaction_id": status.reference}
    elif status.status == CHARGE_DECLINED:
        name, arguments, staff_detail = decline_settlement(code=status.code, bank_reason=status.reason)
    elif status.status == CHARGE_APPROVED:  # refunded at the provider: not paid, and no bank's decline
        name, arguments = "payment_declined", {"reason": DECLINED_DEFAULT_REASON}
    else:
        waiting = "still waits for the bank" if status.status == CHARGE_PENDING else "has no such charge"
        return Reconciliation(status.status, "", order.state, f"The provider {waiting} (charge {key}); "
                              "the order keeps waiting until its deadline.")
    detail = {"step": "payment", "reconciled": key, **({"asked_by": asked_by} if asked_by else {}), **staff_detail}
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


def charge_holder(*, key: str, references: tuple[str, ...] = (), exclude: int | None = None) -> int | None:
    """The id of an order that holds the charge with idempotency `key` or one of `references` (the
    provider's ids of it): it waits for that key (`charge_key`) or pending reference, or it took
    that transaction (`transaction_id`). Orders other than `exclude`; None when no order holds it."""
    references = tuple(reference for reference in references if reference)
    held = Q(charge_key=key) if key else Q()
    if references:
        held |= Q(charge_pending_reference__in=references) | Q(transaction_id__in=references)
    if not held:
        return None
    orders = Order.objects.filter(held)
    if exclude is not None:
        orders = orders.exclude(pk=exclude)
    return orders.order_by("pk").values_list("pk", flat=True).first()


def unwanted_charge_settle(*, event_id: int) -> str:
    """Ask the provider about the unwanted approval PaymentWebhookEvent `event_id` and refund it when
    it is real and this order's (see the module); returns where it stands (PaymentWebhookEvent.Unwanted:
    open when the provider did not answer or the bank has not settled it, asked again later;
    not_ours when an order holds the charge or the provider does not say it was made for this order)."""
    event = PaymentWebhookEvent.objects.select_related("order").get(pk=event_id)
    if event.unwanted != PaymentWebhookEvent.Unwanted.OPEN:
        return event.unwanted
    order, key, reference = event.order, event.payload.get("key", ""), event.payload.get("reference", "")
    holder = charge_holder(key=key, references=(reference,)) if key else None
    status = (charge_status_ask(order.payment_provider, key=key, reference=reference, order_id=order.pk)
              if key and holder is None else None)
    if holder is None and status is not None and status.reference:
        holder = charge_holder(key=key, references=(status.reference,))
    outcome, refund_reference = PaymentWebhookEvent.Unwanted.OPEN, ""
    if holder is not None or (status is not None and status.status == CHARGE_APPROVED
                              and status.order_id != order.pk):
        outcome = PaymentWebhookEvent.Unwanted.NOT_OURS
        logger.warning("unwanted approval %s (charge %s) of order %s not refunded: the charge is %s", reference, key,
                       order.pk, f"held by order {holder}" if holder is not None else
                       f"made for order {status.order_id}" if status.order_id is not None
                       else "not known to be this order's", extra={"order_id": order.pk})
    elif status is not None and status.status == CHARGE_APPROVED and status.refunded:
        outcome = PaymentWebhookEvent.Unwanted.REFUNDED
    elif status is not None and status.status == CHARGE_APPROVED:
        try:
            amount = Decimal(status.amount) if status.amount else order.total
        except InvalidOperation:
            amount = order.total
        provider = payment_provider(order.payment_provider)
        try:
            refund = call_recorded(ProviderRequest("payment", "refund", f"{key}-void", order.pk), lambda: provider.refund(
                key=f"{key}-void", order_id=order.pk, transaction_id=status.reference, amount=amount,
                timeout=settings.PAYMENT_RECONCILE["TIMEOUT"]))
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
