"""What the pipeline does when the order domain (orders.signals) or the account domain
(accounts.signals) announces something.

Connected when the app is ready (WorkflowsConfig.ready).
"""
from django.db import transaction
from django.dispatch import receiver

from accounts.signals import password_reset_requested, staff_invited
from notifications.account_mail import PASSWORD_RESET_TASK, STAFF_INVITATION_TASK
from notifications.services import event_values, notification_record, sentence
from orders.services.tracking import DELIVERY_EXCEPTION
from orders.signals import order_event, order_ready
from orders.states import OrderState
from webhooks.services import deliveries_queue, deliveries_record
from workflows import metrics, outbox
from workflows.delivery import notification_deliver, send_inline
from workflows.queueing import pipeline_enqueue
from workflows.review.holds import hold_open, hold_resolve


@receiver(order_ready, dispatch_uid="workflows.pipeline_take")
def pipeline_take(sender, order_id: int, **kwargs) -> None:
    """The order is the pipeline's to move on: queue its run (the outbox keeps it if the broker refuses)."""
    pipeline_enqueue(order_id=order_id)


@receiver(password_reset_requested, dispatch_uid="workflows.password_reset_queue")
def password_reset_queue(sender, email: str, **kwargs) -> None:
    """Queue the reset e-mail's task with the address as entered (the outbox keeps it if the
    broker refuses); the worker decides whether an account has it. Raises the outbox's
    DatabaseError when neither could take it: the asker is told to try again, not "sent"."""
    outbox.enqueue(PASSWORD_RESET_TASK, email, task_name="password-reset", group="account-mail", must_keep=True)


@receiver(staff_invited, dispatch_uid="workflows.staff_invitation_queue")
def staff_invitation_queue(sender, user_id: int, **kwargs) -> None:
    """Queue the invitation e-mail's task (the outbox keeps it if the broker refuses; should the
    database refuse too, the owner sees the invitation pending and sends it again)."""
    outbox.enqueue(STAFF_INVITATION_TASK, user_id, task_name="staff-invitation", group="account-mail")


@receiver(order_event, dispatch_uid="workflows.events_count")
def events_count(sender, order, event, **kwargs) -> None:
    """Count what committed in the store's metrics."""

    def count() -> None:
        if event.event_type == "order.created":
            metrics.order_created()
        if event.transition:
            metrics.transition_fired(event.transition)
        if event.event_type in ("order.refunded", "order.returned", "order.partially_refunded"):
            metrics.refund_made(full=event.event_type != "order.partially_refunded")

    transaction.on_commit(count, robust=True)


@receiver(order_event, dispatch_uid="workflows.notification_on_event")
def notification_on_event(sender, order, event, **kwargs) -> None:
    """Write the customer's notification with the event; e-mail it once committed. (The "order
    received" e-mail of a placed order goes out from the pipeline's first stage, in the worker.)"""
    inline = send_inline.get() and bool(event.transition)  # a pipeline run e-mails it itself after the commit
    link = kwargs.get("payment_link_url")  # staff sent a payment link (orders.services.reorder)
    extra = {"reference": str(event.detail.get("payment_link", "")),
             "values": {"link": link, "expires": event.detail.get("expires_at", "")}} if link else {}
    # Each partial refund is told, with its amount and items; staff's, not a pipeline stage's,
    # so its e-mail goes out once it commits too.
    partial = event.event_type == "order.partially_refunded"
    if partial:
        extra = {"reference": str(event.detail.get("refund", "")),
                 "values": event_values(event.event_type, event.detail)}
    # The carrier's delivery problem: each one told (it came by the carrier, not a pipeline stage).
    problem = event.event_type == DELIVERY_EXCEPTION
    if problem:
        extra = {"reference": str(event.pk),  # the event's id: the carrier's would not fit the row's 40 characters
                 "values": {"problem": sentence(event.detail.get("description", "")) or "a delivery problem."}}
    notification = notification_record(order=order, event_type=event.event_type, claimed=inline, event=event, **extra)
    if notification is not None and (event.transition or link or partial or problem):
        transaction.on_commit(lambda: notification_deliver(notification), robust=True)


@receiver(order_event, dispatch_uid="workflows.holds_follow")
def holds_follow(sender, order, event, **kwargs) -> None:
    """Open the order's hold with the transition that holds it, end it with the one that takes it
    out: in that transition's transaction."""
    if event.target_state == OrderState.AWAITING_APPROVAL and event.source_state != event.target_state:
        hold_open(order=order, event=event)
    elif event.source_state == OrderState.AWAITING_APPROVAL and event.target_state != event.source_state:
        hold_resolve(order=order, event=event)


@receiver(order_event, dispatch_uid="workflows.webhooks_on_event")
def webhooks_on_event(sender, order, event, **kwargs) -> None:
    """Write the event's webhook deliveries with it (so they exist exactly when it commits); hand
    them to the worker once committed."""
    deliveries = deliveries_record(order=order, event=event)
    if deliveries:
        transaction.on_commit(lambda: deliveries_queue(deliveries), robust=True)
