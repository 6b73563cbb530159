"""When a customer's notification is e-mailed: inline in a pipeline task (already in the
worker), else as a task of its own through the outbox, so no request waits on the mail server."""
import contextvars

from notifications.models import Notification
from notifications.services import notification_send
from workflows import outbox

# True while a pipeline task runs (workflows.tasks.pipeline_run).
send_inline: contextvars.ContextVar[bool] = contextvars.ContextVar("notifications_send_inline", default=False)


def notification_deliver(notification: Notification) -> None:
    """After commit: e-mail `notification` now when in a pipeline task (or recorded by one), else
    queue `notification_send`."""
    # Written claimed (workflows.receivers) when a pipeline run recorded it: that run sends it.
    claimed = notification.email_claimed_until is not None
    if send_inline.get() or claimed:
        notification_send(notification.pk, notification, claimed=claimed)
        return
    outbox.enqueue("notifications.services.notification_send", notification.pk,
                   task_name=f"notify-{notification.order_id}-{notification.event_type}", group="notifications")
