"""Customer notifications: an in-app row and an e-mail per notified order event."""
import logging

from django.db import IntegrityError, transaction

from orders.models import Order
from workflows.gateways import notification_gateway
from workflows.models import Notification

logger = logging.getLogger("workflows.notifications")

MESSAGES = {
    "order.created": ("Order {number} received", "Thanks! We received your order {number} for ${total}."),
    "order.paid": ("Payment received for {number}", "Your payment of ${total} for order {number} was approved."),
    "order.shipped": ("Order {number} shipped", "Order {number} is on its way with {carrier}, tracking {tracking}."),
    "order.delivered": ("Order {number} delivered", "Order {number} was delivered. Enjoy!"),
    "order.cancelled": ("Order {number} cancelled", "Order {number} was cancelled. {reason}"),
    "order.failed": ("Order {number} could not be completed", "We could not complete order {number}: {reason}"),
    "order.refunded": ("Order {number} refunded", "We refunded ${refunded} for order {number}."),
}


def notify(*, order_id: int, event_type: str) -> Notification | None:
    """Tell the customer about `event_type` once (e-mail and in-app); other events are silent."""
    if event_type not in MESSAGES:
        return None
    order = Order.objects.select_related("owner").get(pk=order_id)
    values = {
        "number": order.number,
        "total": order.total,
        "carrier": order.carrier,
        "tracking": order.tracking_number,
        "reason": order.failure_reason,
        "refunded": order.refunded_amount,
    }
    title, body = (text.format(**values).strip() for text in MESSAGES[event_type])
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                user=order.owner, order=order, event_type=event_type, title=title, body=body
            )
    except IntegrityError:
        return None  # already sent: a redelivered task must not notify twice
    try:
        notification_gateway.send(key=f"order-{order.pk}-{event_type}", to=order.owner.email, subject=title, body=body)
    except Exception:  # the in-app notification stands even when e-mail fails
        logger.exception("e-mail for %s failed", event_type, extra={"order_id": order.pk})
    return notification
