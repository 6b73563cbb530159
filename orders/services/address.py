"""Staff correcting an order's shipping address before it ships."""
from dataclasses import asdict

from django.db import transaction

from orders.models import Order, OrderEvent
from orders.services.placement import ShippingAddress
from orders.signals import order_event
from orders.states import Actor, OrderState
from store.audit import staff_action_record
from store.errors import Conflict
from store.request_context import request_id_var

S = OrderState
# Once the shipping step has run (or is running) the label carries the address: too late.
SHIPPED_STATES = frozenset({S.SHIPPING, S.SHIPPED, S.SHIP_FAILED, S.DELIVERED, S.RETURNING, S.RETURNED,
                            S.REFUNDED})
ADDRESS_CORRECTED = "order.address_corrected"


def order_address(order: Order) -> ShippingAddress:
    return ShippingAddress(**order.ship_to())


def order_address_editable(order: Order) -> bool:
    """Whether staff may still correct the order's address: nothing was sent to the carrier."""
    return order.state not in SHIPPED_STATES and not (order.state == S.STALLED and order.stalled_in == S.SHIPPING)


def order_address_correct(*, order: Order, shipping: ShippingAddress, actor) -> Order:
    """Replace the order's shipping address; an OrderEvent (and the staff audit trail) records the
    old and the new address with `actor`. Conflict (409) once the order has shipped or is being
    shipped; nothing is written then. An unchanged address writes nothing and returns the order.
    The caller checked staff's permission (store.permissions.ORDER_CHANGE)."""
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).get(pk=order.pk)
        if not order_address_editable(order):
            raise Conflict(f"Order {order.number} is {order.get_state_display().lower()}: its address can no "
                           "longer be changed, the shipment has already been sent to the carrier.")
        old = order_address(order)
        if old == shipping:
            return order
        order.ship_address, order.ship_city = shipping.address, shipping.city
        order.ship_state, order.ship_zip = shipping.state, shipping.zip
        order.save(update_fields=["ship_address", "ship_city", "ship_state", "ship_zip", "updated_at"])
        detail = {"old_address": asdict(old), "new_address": asdict(shipping)}
        event = OrderEvent.objects.create(
            order=order, event_type=ADDRESS_CORRECTED, source_state=order.state, target_state=order.state,
            actor_kind=Actor.STAFF, actor=actor, actor_email=getattr(actor, "email", "") or "", detail=detail,
            request_id=request_id_var.get() or "",
        )
        order_event.send(sender=Order, order=order, event=event)
        staff_action_record(actor=actor, obj=order, action="correct_address",
                            changes={"shipping address": [str(asdict(old)), str(asdict(shipping))]}, detail={})
    return order
