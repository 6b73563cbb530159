"""Reads for "Needs attention": what a person must look at now, and failed tasks tied to their order.

A failed django-q2 task names its order through its arguments: `TASK_ORDER_ARG` says which
argument of a task function is the order's id. A failed task is *settled*, and leaves the home page's alarm
and this list, once its order reached a terminal state or was handed back to the pipeline
(re-driven or retried) after the task failed; it stays in django-q2's failed-task list.

An order that ended because its payment or shipment failed is listed for STORE_ATTENTION_FAILED_DAYS
until staff dismiss it (orders.services.dismissal) or the customer places it again (Order.retries).
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django_q.models import Failure

from orders.models import Order, OrderEvent, PaymentWebhookEvent
from orders.selectors import delivery_problem_orders, with_latest_tracking
from orders.services.dismissal import DISMISSED
from orders.states import (
    PAYMENT_FAILED_ENDINGS,
    TERMINAL_STATES,
    TRANSITIONS,
    WORKING_STATES,
    Actor,
    OrderState,
    meaning,
)
from providers.base import EXCEPTION, TRACKING_STATUSES
from workflows.confirmation import duration_text
from workflows.policy.selectors import policy_current
from workflows.tasks import pipeline_run

# "<module>.<function>" of a queued task → the position of the order's id among its arguments.
TASK_ORDER_ARG: dict[str, int] = {
    f"{pipeline_run.__module__}.{pipeline_run.__name__}": 0,  # pipeline_run(order_id, request_id)
}

# Transitions that hand an order back to the pipeline: a task that failed before them is moot.
REHANDLED_BY = frozenset(name for name in TRANSITIONS if meaning(name).action in {"redrive", "retry"})

FAILED_TASKS_READ = 1000  # the newest; an alarm with more than this is read the same way
# An unwanted approval the store refunded (or found not charged) stays listed this long, so staff
# can answer the customer who saw the hold on their card.
UNWANTED_SHOWN_DAYS = 7


@dataclass(frozen=True)
class FailedTask:
    """A django-q2 failure and, when its function took an order, that order (None when gone or none)."""

    failure: Failure
    order: Order | None
    settled: bool


def task_order_id(func: str, args) -> int | None:
    """The order id a task of `func` was queued with (TASK_ORDER_ARG), None when it names none."""
    position = TASK_ORDER_ARG.get(func)
    if position is None or not args or len(args) <= position:
        return None
    try:
        return int(args[position])
    except (TypeError, ValueError):
        return None


def failed_tasks(*, limit: int = FAILED_TASKS_READ) -> list[FailedTask]:
    """The newest `limit` failed tasks, newest first, each with its order and whether it is settled.
    Two queries."""
    failures = list(Failure.objects.order_by("-stopped")[:limit])
    order_ids = {task_order_id(failure.func, failure.args) for failure in failures} - {None}
    orders = {
        order.pk: order for order in Order.objects.filter(pk__in=order_ids).select_related("owner")
        .annotate(rehandled_at=Max("events__created_at", filter=Q(events__transition__in=REHANDLED_BY)))
    }
    linked = []
    for failure in failures:
        order = orders.get(task_order_id(failure.func, failure.args))
        settled = order is not None and (
            order.state in TERMINAL_STATES
            or (order.rehandled_at is not None and failure.stopped is not None and order.rehandled_at > failure.stopped)
        )
        linked.append(FailedTask(failure, order, settled))
    return linked


def failed_tasks_open_count() -> int:
    """How many failed tasks still need a person (not settled): the home page's alarm."""
    return sum(1 for task in failed_tasks() if not task.settled)


# --- Needs attention ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AttentionSection:
    """One kind of thing to look at: `orders` oldest first (for failed tasks: `tasks`, newest first)."""

    key: str
    title: str
    what_to_do: str
    orders: list[Order] = field(default_factory=list)
    tasks: list[FailedTask] = field(default_factory=list)
    charges: list[PaymentWebhookEvent] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.orders) + len(self.tasks) + len(self.charges)


def stuck_since(now: datetime | None = None) -> datetime:
    """Orders in a working state not updated since this moment are stuck (STORE_ATTENTION_STUCK_MINUTES)."""
    return (now or timezone.now()) - timedelta(minutes=settings.STORE_ATTENTION_STUCK_MINUTES)


def confirmation_late_after() -> int:
    """Seconds after which a payment pending at the bank has lost its confirmation: the store started
    asking the provider (the current workflow version's `payment.reconcileAfterSeconds`) and one round of
    the schedule (`payment.reconcileEveryMinutes`) found no answer."""
    current = policy_current()
    return current.reconcile_after + 60 * current.reconcile_every_minutes


def confirmation_lost(*, now: datetime | None = None) -> QuerySet[Order]:
    """Orders in `paying` whose charge has waited for the bank longer than `confirmation_late_after`,
    longest first, each with `callbacks`: how many of the provider's callbacks about it the store
    received (none settled it). One query."""
    late = (now or timezone.now()) - timedelta(seconds=confirmation_late_after())
    return (Order.objects.select_related("owner").filter(state=OrderState.PAYING, charge_pending_since__lt=late)
            .annotate(callbacks=Count("payment_webhook_events")).order_by("charge_pending_since", "id"))


# How an order ends because its payment or shipment failed: the payment given up on (declined after
# its retries, or never confirmed), or the refund the pipeline made when shipping kept failing.
FAILED_ENDING = (Q(transition__in=PAYMENT_FAILED_ENDINGS)
                 | Q(transition="refund", source_state=OrderState.SHIP_FAILED, actor_kind=Actor.SYSTEM))
FAILED_ENDED_STATES = frozenset(TRANSITIONS[name].target for name in (*PAYMENT_FAILED_ENDINGS, "refund"))


def failed_since(now: datetime | None = None) -> datetime:
    """Orders whose payment or shipment failed are listed this long after they ended (STORE_ATTENTION_FAILED_DAYS)."""
    return (now or timezone.now()) - timedelta(days=settings.STORE_ATTENTION_FAILED_DAYS)


def failed_unattended(*, now: datetime | None = None) -> QuerySet[Order]:
    """Orders that ended because their payment or shipment failed (FAILED_ENDING) within
    STORE_ATTENTION_FAILED_DAYS, that staff did not dismiss (orders.services.dismissal) and the
    customer did not place again (Order.retries: Try again or a payment link); the oldest ending
    first, each with `ended_at`. One query."""
    since = failed_since(now)
    endings = OrderEvent.objects.filter(FAILED_ENDING, order=OuterRef("pk")).order_by("-created_at", "-id")
    return (Order.objects.select_related("owner")
            # The ending saved the order, so a recent ending is on a recently updated order (indexed).
            .filter(state__in=FAILED_ENDED_STATES, updated_at__gte=since)
            .annotate(ended_at=Subquery(endings.values("created_at")[:1]))
            .filter(ended_at__gte=since)
            .exclude(Exists(OrderEvent.objects.filter(order=OuterRef("pk"), detail__has_key=DISMISSED)))
            .exclude(Exists(Order.objects.filter(retry_of=OuterRef("pk"))))
            .order_by("ended_at", "id"))


def unwanted_charges(*, now: datetime | None = None, shown: int = 50) -> list[PaymentWebhookEvent]:
    """Approvals of charges their order did not want (PaymentWebhookEvent.unwanted), newest first:
    every one still to refund, and those settled within UNWANTED_SHOWN_DAYS. One query."""
    recent = (now or timezone.now()) - timedelta(days=UNWANTED_SHOWN_DAYS)
    return list(PaymentWebhookEvent.objects.exclude(unwanted="")
                .filter(Q(unwanted=PaymentWebhookEvent.Unwanted.OPEN) | Q(received_at__gte=recent))
                .select_related("order__owner").order_by("-received_at", "-id")[:shown])


def delivery_problems() -> QuerySet[Order]:
    """Shipped orders whose parcel the carrier could not deliver: its latest tracking update on the
    order (orders.selectors.delivery_problem_orders) is an exception (address not found…); the
    oldest problem first, each with `problem` (the carrier's words) and `problem_at`. A later
    update (delivered, returned, on its way again) takes the order off. One query."""
    return (delivery_problem_orders().select_related("owner")
            .annotate(problem=F("tracking_description"), problem_at=F("tracking_at")).order_by("problem_at", "id"))


def carrier_silent_since(now: datetime | None = None) -> datetime:
    """Shipped orders without news from the carrier since this moment are listed (STORE_ATTENTION_CARRIER_SILENT_DAYS)."""
    return (now or timezone.now()) - timedelta(days=settings.STORE_ATTENTION_CARRIER_SILENT_DAYS)


def carrier_silent(*, now: datetime | None = None) -> QuerySet[Order]:
    """Shipped orders with no news of their parcel for more than STORE_ATTENTION_CARRIER_SILENT_DAYS
    (`updated_at`: shipping, or the carrier's latest update), whether the carrier does not answer
    or does not know the tracking number; delivery problems are listed on their own. The longest
    silent first, each with `tracking_status` (its latest update, None before any). One query."""
    return (with_latest_tracking(Order.objects.select_related("owner")
                                 .filter(state=OrderState.SHIPPED, updated_at__lt=carrier_silent_since(now)))
            .filter(Q(tracking_status__isnull=True) | Q(tracking_status__in=set(TRACKING_STATUSES) - {EXCEPTION}))
            .order_by("updated_at", "id"))


def needs_attention(*, now: datetime | None = None, shown: int = 50) -> list[AttentionSection]:
    """What a person must look at now, at most `shown` per section: held orders, failed payments and
    shipments (still to retry, and those that ended lately), payments whose confirmation was lost,
    parcels the carrier could not deliver or has been silent about, orders stuck in a working
    state, unsettled failed tasks, orders a provider outage stalled, approvals of charges no order
    wanted. Eleven queries (ten while no failed task names an order)."""
    base = Order.objects.select_related("owner").order_by("updated_at", "id")
    # A shipped order waits for the carrier by design (the pipeline asks it when it stays silent;
    # a delivery problem is listed on its own), and a pending payment for the bank (listed on its
    # own); the pipeline's sweeper re-runs stuck steps, so one still stuck after the threshold
    # needs a person.
    since = stuck_since(now)
    stuck = (Q(state__in=WORKING_STATES - {OrderState.SHIPPED}, updated_at__lt=since)
             & ~Q(state=OrderState.PAYING, charge_pending_since__isnull=False)
             & ~Q(state__in=(OrderState.PAYMENT_FAILED, OrderState.SHIP_FAILED)))  # listed as failed
    days = settings.STORE_ATTENTION_FAILED_DAYS
    silent = settings.STORE_ATTENTION_CARRIER_SILENT_DAYS
    current = policy_current()
    every = current.reconcile_every_minutes
    return [
        AttentionSection(
            "held", "Held for approval",
            "Approve or reject, the earliest deadline first: at the deadline the hold's action runs (a reminder, "
            "or the order is cancelled or approved by itself).",
            orders=list(base.filter(state=OrderState.AWAITING_APPROVAL).select_related("hold", "hold__assignee")
                        .order_by(F("hold__deadline").asc(nulls_last=True), "created_at", "id")[:shown]),
        ),
        AttentionSection(
            "failed", "Payment or shipping failed", "Retry once the customer or the carrier has sorted it out.",
            orders=list(base.filter(state__in=(OrderState.PAYMENT_FAILED, OrderState.SHIP_FAILED))[:shown]),
        ),
        AttentionSection(
            "ended", f"Ended after a failed payment or shipment (last {days} day{'s' if days != 1 else ''})",
            "These orders ended without reaching the customer: their card was declined, their payment never "
            "confirmed, or shipping failed and the shop refunded them. Tell the customer (a payment link from the "
            "order's page lets them pay again), then dismiss; an order leaves by itself once the customer "
            "places it again.",
            orders=list(failed_unattended(now=now)[:shown]),
        ),
        AttentionSection(
            "confirmation", "Payment confirmation not received",
            f"The payment provider answered \"pending\" (3-D Secure, a bank transfer) more than "
            f"{duration_text(confirmation_late_after())} ago and its confirmation has not come. The shop asks the "
            f"provider every {'minute' if every == 1 else f'{every} minutes'} and fails the "
            f"order {duration_text(current.confirmation_timeout)} after the charge answered (the current workflow "
            "version's; each order keeps its own version's); check with the "
            "provider to ask now. One past its deadline is waiting on the worker: look at it, then retry the step.",
            orders=list(confirmation_lost(now=now)[:shown]),
        ),
        AttentionSection(
            "delivery", "Delivery problem reported by the carrier",
            "The carrier could not deliver the parcel (the address was not found, say) and holds it: the order "
            "stays shipped. Contact the customer to confirm the address, then tell the carrier, quoting the "
            "tracking number. The order leaves this list once the carrier delivers the parcel or returns it "
            "(a returned parcel's order is refunded by itself).",
            orders=list(delivery_problems()[:shown]),
        ),
        AttentionSection(
            "silent", f"Carrier silent or parcel unknown for more than {silent} day{'s' if silent != 1 else ''}",
            "The carrier has sent no news of the parcel, or answers that it does not know its tracking number. "
            "Ask the carrier about it, quoting the tracking number; if the parcel is lost, refund the customer "
            "(or send the order again) and tell them. The order leaves this list with the carrier's next update.",
            orders=list(carrier_silent(now=now)[:shown]),
        ),
        AttentionSection(
            "stuck", "Stuck in a working state",
            f"Not moved for more than {settings.STORE_ATTENTION_STUCK_MINUTES} minutes: retry the step or cancel.",
            orders=list(base.filter(stuck)[:shown]),
        ),
        AttentionSection(
            "tasks", "Failed tasks", "Open the order and act on it (or resubmit the task); "
            "a task leaves this list when its order ends or is re-driven.",
            tasks=[task for task in failed_tasks() if not task.settled][:shown],
        ),
        AttentionSection(
            "delayed", "Delayed by a provider outage", "Re-drive once the provider answers again, or cancel.",
            orders=list(base.filter(state=OrderState.STALLED)[:shown]),
        ),
        AttentionSection(
            "unwanted", "Approved charges no order wanted",
            "The provider approved a charge its order did not wait for (another attempt's, or after the "
            "order ended); the shop refunds it at the provider by itself. Tell the customer if they ask "
            "about the hold on their card; one still to refund is asked about again every few minutes.",
            charges=unwanted_charges(now=now, shown=shown),
        ),
    ]
