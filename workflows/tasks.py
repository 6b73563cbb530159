"""django-q2 tasks of the pipeline: the run of one order, the sweeper, the re-drive, the
reconciliation of pending payments with the provider."""
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django_q.models import Schedule

from notifications.services import notifications_resend
from orders.models import Order, PaymentWebhookEvent
from orders.selectors import orders_waiting_on
from orders.services.payment_reconcile import payment_reconcile, unwanted_charge_settle
from orders.states import WORKING_STATES, OrderState
from store.request_context import order_id_var, request_id_var
from workflows import executor, outbox
from workflows.delivery import send_inline
from workflows.models import WorkflowVersion
from workflows.pipeline import pipeline_advance
from workflows.policy.selectors import policy_current
from workflows.queueing import SCHEDULE_PREFIX, pipeline_enqueue
from workflows.review.holds import holds_expire

logger = logging.getLogger("workflows.tasks")


def pipeline_run(order_id: int, request_id: str | None = None) -> str | None:
    """The pipeline task: advance one order as far as it can go now.

    In a worker process the run goes to a thread of the process' pool (workflows.executor)
    and the task returns at once; elsewhere it runs here and returns the state the order
    stopped in. Its log lines carry the order and the id of the request that started the work.
    """
    token = request_id_var.set(request_id)
    order_token = order_id_var.set(order_id)
    inline_token = send_inline.set(True)
    try:
        return executor.run(order_id, pipeline_advance)
    finally:
        request_id_var.reset(token)
        order_id_var.reset(order_token)
        send_inline.reset(inline_token)


SWEEPER_SCHEDULE = "sweep-stuck-orders"  # made by migration workflows/0002


RECONCILE_SCHEDULE = "reconcile-pending-payments"  # made by migration workflows/0007
SHIPPED_SWEEP_BATCH = 100  # shipped orders whose scheduled run was lost, re-run per sweep
RECONCILE_BATCH = 200  # orders asked about per run, oldest first (one provider call each)


def sweeper_schedule_sync(*, using: str = "default", **kwargs) -> int:
    """After every migrate (post_migrate): the sweeper's django-q2 schedule runs every
    PIPELINE['SWEEP_EVERY_MINUTES'] minutes, the reconciliation's every the current workflow
    version's `payment.reconcileEveryMinutes` (also after each publication). Returns how many
    schedules it changed."""
    changed = 0
    schedules = [(SWEEPER_SCHEDULE, settings.PIPELINE["SWEEP_EVERY_MINUTES"])]
    # A database migrated part of the way (an upgrade in steps) may not hold the versions yet.
    if WorkflowVersion._meta.db_table in connections[using].introspection.table_names():
        schedules.append((RECONCILE_SCHEDULE, policy_current().reconcile_every_minutes))
    for name, minutes in schedules:
        changed += Schedule.objects.using(using).filter(name=name).exclude(minutes=minutes).update(minutes=minutes)
    return changed


def payments_reconcile(*, now: datetime | None = None) -> int:
    """Scheduled: ask the payment provider about every payment pending for longer than
    the current workflow version's `payment.reconcileAfterSeconds` (oldest first, RECONCILE_BATCH per run) and settle the
    order by its answer, then refund the unwanted approvals still open. Returns how many
    orders its answers settled."""
    since = (now or timezone.now()) - timedelta(seconds=policy_current().reconcile_after)
    pending = (Order.objects.filter(state=OrderState.PAYING, charge_pending_since__lte=since)
               .order_by("charge_pending_since").values_list("pk", flat=True)[:RECONCILE_BATCH])
    settled = 0
    for order_id in pending:
        settled += bool(payment_reconcile(order_id=order_id).transition)
    unwanted = (PaymentWebhookEvent.objects.filter(unwanted=PaymentWebhookEvent.Unwanted.OPEN)
                .order_by("received_at").values_list("pk", flat=True)[:RECONCILE_BATCH])
    for event_id in unwanted:
        unwanted_charge_settle(event_id=event_id)
    if settled:
        logger.info("reconciled %s pending payment(s) with the provider", settled)
    return settled


def stuck_orders(*, now: datetime | None = None, older_than: float | None = None):
    """Orders sitting in a working state for longer than `older_than` seconds (default
    PIPELINE['STUCK_AFTER_SECONDS']), oldest first. Not shipped orders: they wait for the carrier
    for days by design, each run scheduling its next (`shipped_unscheduled` finds those whose
    schedule was lost)."""
    now = now or timezone.now()
    threshold = timedelta(seconds=settings.PIPELINE["STUCK_AFTER_SECONDS"] if older_than is None else older_than)
    return (Order.objects.filter(state__in=WORKING_STATES - {OrderState.SHIPPED}, updated_at__lt=now - threshold)
            .order_by("updated_at").values_list("pk", flat=True))


def shipped_unscheduled(*, now: datetime | None = None):
    """Shipped orders without news for the current workflow version's `tracking.timeoutSeconds`
    (times PIPELINE['TRACKING_WAIT_SCALE']) + PIPELINE['STUCK_AFTER_SECONDS'] that have no
    pipeline run scheduled (workflows.queueing.pipeline_schedule's one-off schedule: a worker died
    between the run that was due and the one it would have scheduled), oldest first. An order of
    another version found early is harmless: its run schedules its own next ask."""
    now = now or timezone.now()
    silence = timedelta(seconds=policy_current().tracking_timeout * settings.PIPELINE["TRACKING_WAIT_SCALE"]
                        + settings.PIPELINE["STUCK_AFTER_SECONDS"])
    scheduled = Schedule.objects.filter(name__startswith=Concat(
        Value(SCHEDULE_PREFIX), Cast(OuterRef("pk"), CharField()), Value("-at-")))
    return (Order.objects.filter(state=OrderState.SHIPPED, updated_at__lt=now - silence)
            .exclude(Exists(scheduled)).order_by("updated_at").values_list("pk", flat=True))


def _redrive(order_ids: list[int], *, log_each: bool = True) -> int:
    for order_id in order_ids:
        if log_each:
            logger.warning("re-enqueueing stuck order %s", order_id, extra={"order_id": order_id})
        pipeline_enqueue(order_id=order_id)
    return len(order_ids)


def sweep_stuck_orders() -> int:
    """Scheduled: queue what the outbox holds, e-mail what failed to go out, run the expiry
    action of holds past their deadline, and re-enqueue the pipeline for every stuck order.
    Returns how many stuck orders."""
    outbox.outbox_relay()
    notifications_resend()
    holds_expire()
    # Shipped orders in their own small batch: thousands of parcels on their way never crowd out
    # the orders stuck mid-pipeline.
    return _redrive(list(stuck_orders()[:1000]) + list(shipped_unscheduled()[:SHIPPED_SWEEP_BATCH]))


def orders_redrive() -> int:
    """After a broker outage: re-enqueue every order in a working state now (at most 1000, oldest
    first), whatever its age; the tasks the broker held may be lost. Returns how many (the
    caller logs the count)."""
    return _redrive(list(stuck_orders(older_than=0)[:1000]), log_each=False)


def circuit_wake(provider: str) -> int | None:
    """Queued by the relay at the end of a provider's cool-down: run the order that has waited longest
    for it; its call is the circuit's probe, and an answer queues the others
    (workflows.pipeline.circuit_closed). Returns the order's id, None when none waits."""
    order_id = orders_waiting_on(provider=provider).values_list("pk", flat=True).first()
    if order_id is not None:
        logger.info("%s circuit cool-down over: order %s probes it", provider, order_id,
                    extra={"order_id": order_id, "provider": provider})
        pipeline_run(order_id)
    return order_id
