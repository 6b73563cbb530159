"""Staff dismissing an order that ended: they dealt with it (told the customer, or nothing is to
be done), so the back office stops asking them to. The order's state does not change."""
from django.db import transaction

from orders.models import Order, OrderEvent
from orders.states import TERMINAL_STATES, Actor
from store import permissions
from store.audit import staff_action_record
from store.errors import Conflict
from store.request_context import request_id_var

# The key of the OrderEvent detail that records a dismissal (staff only: OrderEvent.STAFF_ONLY_DETAIL).
DISMISSED = "dismissed"
DISMISSED_TEXT = "Dealt with by staff: no longer listed as needing attention"


def order_dismissed(order: Order) -> bool:
    return order.events.filter(detail__has_key=DISMISSED).exists()


def order_dismiss(*, order: Order, actor) -> bool:
    """Record that staff member `actor` dealt with `order`, which has ended: an OrderEvent without a
    transition on its timeline (`detail["dismissed"]`, nothing published or notified) and an entry
    in the staff audit trail. False, and nothing written, when it was dismissed already.

    Needs orders.change_order (PermissionRefused, 403). An order that has not ended is still the
    pipeline's or a person's to move on: Conflict (409), nothing written."""
    permissions.require(actor, permissions.ORDER_VIEW)
    permissions.require(actor, permissions.ORDER_CHANGE, doing="dismiss orders")
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).get(pk=order.pk)
        if order.state not in TERMINAL_STATES:
            raise Conflict(f"Order {order.number} is {order.get_state_display().lower()}: only an order that "
                           "ended can be dismissed.")
        if order_dismissed(order):
            return False
        detail = {DISMISSED: DISMISSED_TEXT}
        OrderEvent.objects.create(
            order=order, source_state=order.state, target_state=order.state, actor_kind=Actor.STAFF, actor=actor,
            actor_email=getattr(actor, "email", "") or "", detail=detail, request_id=request_id_var.get() or "",
        )
        staff_action_record(actor=actor, obj=order, action="dismiss", changes={"needs attention": ["yes", "no"]},
                            detail=detail)
    return True
