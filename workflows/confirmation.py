"""A charge the payment provider answered "pending" (3-D Secure, a bank transfer).

The order stays in `paying` and nothing waits for it: the provider's webhook settles it
(orders.services.payment_webhook), or reconciliation does (orders.services.payment_reconcile:
the schedule asks the provider about payments pending longer than
the current workflow version's `payment.reconcileAfterSeconds`). A pipeline run scheduled for
the deadline (the order's workflow version's `payment.confirmationTimeoutSeconds` after the
charge first answered pending) asks the
provider once more and fires `payment_expired` if the charge is still pending or unknown then;
a rerun of the step before then changes nothing.
"""
from datetime import timedelta

from django.utils import timezone

from orders.models import Order
from orders.services import order_transition, payment_pending_record
from orders.services.payment_pending import PAYMENT_PENDING_EVENT
from orders.services.payment_reconcile import payment_reconcile
from orders.states import OrderState
from providers.base import GatewayResult
from workflows.policy.selectors import policy_for_order
from workflows.queueing import pipeline_schedule


def duration_text(seconds: int) -> str:
    """A setting's seconds as people read them: "15 minutes", "1 minute", "90 seconds"."""
    if seconds % 60 == 0 and seconds >= 60:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def payment_expired_reason(timeout: int) -> str:
    """What the customer reads when the confirmation never came (`timeout` in seconds)."""
    return f"The payment was not confirmed within {duration_text(timeout)}; no charge was made"


def _expire(order: Order, reference: str) -> Order | bool:
    """At the deadline: the provider's answer settles the order (approved: paid, declined:
    payment failed); still pending, unknown or no answer: it expires."""
    if payment_reconcile(order_id=order.pk, hand_back=False).transition:
        return True  # the pipeline goes on from where the provider's answer left the order
    timeout = policy_for_order(order).confirmation_timeout
    return order_transition(order_id=order.pk, name="payment_expired", only_from=OrderState.PAYING,
                            detail={"step": "payment", "reference": reference},
                            reason=payment_expired_reason(timeout)) or True


def payment_awaiting(order: Order) -> Order | bool | None:
    """The payment step spent its calls on timeouts: if its charge had already answered "pending"
    (since the order last entered `paying`), the provider was reached and the bank confirms it
    through the webhook, so the order keeps waiting in `paying` (until its deadline) instead of
    stalling: a stalled order would ignore the approval, and the customer be charged for an
    order that never ships. None when no charge of this payment is pending."""
    entered = (order.events.filter(target_state=OrderState.PAYING).exclude(transition="")
               .order_by("-id").values_list("id", flat=True).first())
    pending = (order.events.filter(event_type=PAYMENT_PENDING_EVENT, id__gt=entered or 0)
               .order_by("id").values_list("created_at", "detail").first())
    if pending is None:
        return None
    since, detail = pending
    if timezone.now() >= since + timedelta(seconds=policy_for_order(order).confirmation_timeout):
        return _expire(order, (detail or {}).get("reference", ""))
    return False


def payment_pending(order: Order, result: GatewayResult) -> Order | bool:
    """The payment stage's answer to a pending charge (a Stage's run: False means the order waits;
    True or the order means go on)."""
    pending = payment_pending_record(order_id=order.pk, reference=result.reference)
    if pending is None:
        return True  # the webhook settled it meanwhile: go on from where it left the order
    timeout = policy_for_order(order).confirmation_timeout
    due = pending.since + timedelta(seconds=timeout)
    if timezone.now() >= due:
        return _expire(order, result.reference)
    if pending.new:
        pipeline_schedule(order_id=order.pk, at=due)
    return False
