"""Reads for "Needs attention": what a person must look at now, and failed tasks tied to their order.

A failed django-q2 task names its order through its arguments: `TASK_ORDER_ARG` says which
argument of a task function is the order's id. A failed task is *settled*, and leaves the home page's alarm
and this list, once its order reached a terminal state or was handed back to the pipeline
(re-driven or retried) after the task failed; it stays in django-q2's failed-task list.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone
from django_q.models import Failure

from orders.models import Order, PaymentWebhookEvent
from orders.states import TERMINAL_STATES, TRANSITIONS, WORKING_STATES, OrderState, meaning
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


def unwanted_charges(*, now: datetime | None = None, shown: int = 50) -> list[PaymentWebhookEvent]:
    """Approvals of charges their order did not want (PaymentWebhookEvent.unwanted), newest first:
    every one still to refund, and those settled within UNWANTED_SHOWN_DAYS. One query."""
    recent = (now or timezone.now()) - timedelta(days=UNWANTED_SHOWN_DAYS)
    return list(PaymentWebhookEvent.objects.exclude(unwanted="")
                .filter(Q(unwanted=PaymentWebhookEvent.Unwanted.OPEN) | Q(received_at__gte=recent))
                .select_related("order__owner").order_by("-received_at", "-id")[:shown])


def needs_attention(*, now: datetime | None = None, shown: int = 50) -> list[AttentionSection]:
    """What a person must look at now, at most `shown` per section: held orders, failed payments and
    shipments, orders stuck in a working state, unsettled failed tasks, orders a provider outage
    stalled, approvals of charges no order wanted. Seven queries."""
    base = Order.objects.select_related("owner").order_by("updated_at", "id")
    # A shipped order waits for its delivery by design; the pipeline's sweeper re-runs stuck steps,
    # so one still stuck after the threshold needs a person.
    since = stuck_since(now)
    delivery = timedelta(seconds=settings.PIPELINE["DELIVERY_DELAY_SECONDS"])
    stuck = (Q(state__in=WORKING_STATES - {OrderState.SHIPPED}, updated_at__lt=since)
             | Q(state=OrderState.SHIPPED, updated_at__lt=since - delivery))
    return [
        AttentionSection(
            "held", "Held for approval", "Approve or reject: the oldest have waited longest.",
            orders=list(base.filter(state=OrderState.AWAITING_APPROVAL).order_by("created_at", "id")[:shown]),
        ),
        AttentionSection(
            "failed", "Payment or shipping failed", "Retry once the customer or the carrier has sorted it out.",
            orders=list(base.filter(state__in=(OrderState.PAYMENT_FAILED, OrderState.SHIP_FAILED))[:shown]),
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
