"""What the pipeline does when the order domain announces something (orders.signals).

Connected when the app is ready (WorkflowsConfig.ready).
"""
from django.db import transaction
from django.dispatch import receiver

from notifications.services import TOLD_EACH, notification_record
from orders.signals import order_event, order_ready
from workflows import metrics
from workflows.delivery import notification_deliver, send_inline
from workflows.queueing import pipeline_enqueue


@receiver(order_ready, dispatch_uid="workflows.pipeline_take")
def pipeline_take(sender, order_id: int, **kwargs) -> None:
    """The order is the pipeline's to move on: queue its run (the outbox keeps it if the broker refuses)."""
    pipeline_enqueue(order_id=order_id)


@receiver(order_event, dispatch_uid="workflows.events_count")
def events_count(sender, order, event, **kwargs) -> None:
    """Count what committed in the store's metrics."""

    def count() -> None:
        if event.event_type == "order.created":
            metrics.order_created()
        if event.transition:
            metrics.transition_fired(event.transition)
        if event.event_type in ("order.refunded", "order.partially_refunded"):
            metrics.refund_made(full=event.event_type == "order.refunded")

    transaction.on_commit(count, robust=True)


@receiver(order_event, dispatch_uid="workflows.notification_on_event")
def notification_on_event(sender, order, event, **kwargs) -> None:
    """Write the customer's notification with the event; e-mail it once committed. (The "order
    received" e-mail of a placed order goes out from the pipeline's first stage, in the worker.)"""
    inline = send_inline.get() and bool(event.transition)  # a pipeline run e-mails it itself after the commit
    notification = notification_record(order=order, event_type=event.event_type, claimed=inline, detail=event.detail)
    # A partial refund is staff's, not a pipeline stage's: its e-mail goes out once it commits too.
    if notification is not None and (event.transition or event.event_type in TOLD_EACH):
        transaction.on_commit(lambda: notification_deliver(notification), robust=True)
