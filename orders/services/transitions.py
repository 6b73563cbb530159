"""The one place where an order changes state.

`order_transition` fires a django-fsm transition of `Order` under a row lock, inside a
transaction, writes the `OrderEvent`, releases stock when the order ends without shipping,
records the customer's notification, and schedules the follow-up work (the e-mail, metrics,
the pipeline) on commit.
"""
import logging
from typing import Any

from django.db import transaction
from django_fsm import can_proceed

from orders.models import Order, OrderEvent
from orders.states import TERMINAL_STATES, Actor, OrderState, StockStatus
from orders.stock import stock_release
from store.audit import staff_action_record
from store.errors import Conflict
from store.request_context import request_id_var

logger = logging.getLogger("orders.transitions")

# Published events, by the transition that publishes them.
EVENT_OF_TRANSITION = {
    "validation_passed": "order.validated",
    "validation_failed": "order.failed",
    "hold_for_review": "order.held",
    "reject": "order.cancelled",
    "payment_approved": "order.paid",
    "payment_declined": "order.payment_failed",
    "abandon_payment": "order.failed",
    "shipping_confirmed": "order.shipped",
    "shipping_failed": "order.ship_failed",
    "refund": "order.refunded",
    "deliver_order": "order.delivered",
    "cancel_order": "order.cancelled",
    "cancel_validated": "order.cancelled",
}
TRANSITION_NAMES = tuple(t.name for t in Order._meta.get_field("state").get_all_transitions(Order))


class TransitionRefused(Conflict):
    code = "invalid_state"


def _refusal_message(order: Order, name: str) -> str:
    label = name.replace("_", " ")
    return f"Order {order.number} is {order.get_state_display().lower()} ({order.state}); it cannot {label} now."


def order_transition(
    *,
    order_id: int,
    name: str,
    actor=None,
    actor_kind: str = Actor.SYSTEM,
    only_from: str | None = None,
    detail: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Order | None:
    """Fire transition `name` on the order and return it.

    With `only_from`, an order that has already left that state is left alone and None is
    returned: that is how a redelivered pipeline step becomes a no-op. Otherwise a transition
    the current state does not allow raises TransitionRefused (HTTP 409).
    """
    from notifications import services as notifications

    if name not in TRANSITION_NAMES:
        raise ValueError(f"unknown transition {name!r}")
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if only_from is not None and order.state != only_from:
            return None
        method = getattr(order, name)
        if not can_proceed(method):
            raise TransitionRefused(_refusal_message(order, name))
        source = order.state
        method(**kwargs)
        released = False
        if order.state in TERMINAL_STATES and order.stock_status == StockStatus.RESERVED:
            stock_release(order=order)
            order.stock_status = StockStatus.RELEASED
            released = True
        order.save()
        event_type = EVENT_OF_TRANSITION.get(name, "")
        event_detail = {key: str(value) for key, value in kwargs.items() if value not in (None, "")}
        event_detail.update(detail or {})
        if released:
            event_detail["stock"] = "released"
        OrderEvent.objects.create(
            order=order,
            event_type=event_type,
            transition=name,
            source_state=source,
            target_state=order.state,
            actor_kind=actor_kind,
            actor=actor,
            actor_email=getattr(actor, "email", "") or "",
            detail=event_detail,
            request_id=request_id_var.get() or "",
        )
        notification = notifications.notification_record(order=order, event_type=event_type) if event_type else None
        if actor_kind == Actor.STAFF:
            staff_action_record(
                actor=actor, obj=order, action=name, changes={"state": [source, order.state]}, detail=event_detail
            )
        logger.info(
            "order %s %s: %s → %s",
            order.pk,
            name,
            source,
            order.state,
            extra={"order_id": order.pk, "transition": name, "source": source, "target": order.state},
        )
        # Follow-up work never turns the committed change into an error (robust: logged instead);
        # what the broker refuses waits in the outbox (workflows.outbox).
        transaction.on_commit(lambda: _after_commit(order, name, notification, actor_kind), robust=True)
    return order


def _after_commit(order: Order, name: str, notification, actor_kind: str) -> None:
    from notifications import services as notifications
    from workflows import metrics, tasks

    metrics.transition_fired(name)
    if notification is not None:
        notifications.notification_dispatch(notification)
    # A person moved the order into a state the pipeline works on: hand it back to the pipeline.
    if actor_kind != Actor.SYSTEM and order.state not in TERMINAL_STATES and order.state != OrderState.AWAITING_APPROVAL:
        tasks.pipeline_enqueue(order_id=order.pk)
