"""Staff correcting an order's shipping address before it ships; the carrier checks the new one."""
import hashlib
import math
from dataclasses import asdict
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from orders.models import Order, OrderEvent
from orders.services.placement import ShippingAddress
from orders.signals import order_event
from orders.states import TERMINAL_STATES, Actor, OrderState
from orders.workflow import address_check_timeout
from providers import breakers, registry
from providers.base import GatewayTimeout
from providers.calls import ProviderRequest, call_recorded
from store.audit import staff_action_record
from store.errors import Conflict, ProviderUnavailable
from store.request_context import request_id_var

S = OrderState
# Once the shipping step has run (or is running) the label carries the address: too late.
SHIPPED_STATES = frozenset({S.SHIPPING, S.SHIPPED, S.SHIP_FAILED, S.DELIVERED, S.RETURNING, S.RETURNED,
                            S.REFUNDED})
ADDRESS_CORRECTED = "order.address_corrected"
# Retry-After when the carrier timed out, or its circuit's cool-down end is unknown.
CHECK_RETRY_SECONDS = 30


def order_address(order: Order) -> ShippingAddress:
    return ShippingAddress(**order.ship_to())


def address_check_key(order_id: int, shipping: ShippingAddress) -> str:
    """The idempotency key of the carrier's check of `shipping` for order `order_id`: one per
    address, so the check of a corrected address is a new question, never the old one's answer
    (the pipeline's step and a staff correction ask with the same key for the same address)."""
    text = "\n".join(part.strip().casefold() for part in (shipping.address, shipping.city, shipping.state,
                                                           shipping.zip))
    return f"order-{order_id}-address-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def order_address_refusal(order: Order) -> str:
    """Why staff may no longer correct the order's address ("" while they may): the label carries
    it once the shipping step has run, and an ended order (orders.states.TERMINAL_STATES) goes
    nowhere; its customer places a new order instead."""
    state = order.get_state_display().lower()
    if order.state in SHIPPED_STATES or (order.state == S.STALLED and order.stalled_in == S.SHIPPING):
        return (f"Order {order.number} is {state}: its address can no longer be changed, the shipment has "
                "already been sent to the carrier.")
    if order.state in TERMINAL_STATES:
        return (f"Order {order.number} is {state}: it has ended, so its address can no longer be changed; "
                "the customer can place a new order to the right address.")
    return ""


def order_address_editable(order: Order) -> bool:
    """Whether staff may still correct the order's address: nothing was sent to the carrier and
    the order has not ended (`order_address_refusal` says why not)."""
    return not order_address_refusal(order)


def _retry_after() -> int:
    until = breakers.circuit("address", fresh=True).opened_until
    if isinstance(until, datetime):
        return max(1, math.ceil((until - timezone.now()).total_seconds()))
    return CHECK_RETRY_SECONDS


def address_deliverable(*, order: Order, shipping: ShippingAddress) -> None:
    """Ask the carrier (the "address" provider, as the pipeline's address step does) whether it
    delivers to `shipping`, through the step's circuit, with the order's workflow version's
    timeout for the step, in one call recorded for the order (key `address_check_key`).

    Conflict (409, code address_undeliverable) with the carrier's reason when it does not;
    ProviderUnavailable (503, `retry_after` the circuit's cool-down left, else
    CHECK_RETRY_SECONDS) when its circuit is open or the call timed out. Writes nothing."""
    unavailable = ("The carrier cannot check the address now; try again shortly. "
                   f"The address of order {order.number} was not changed.")
    if not breakers.allow("address"):
        raise ProviderUnavailable(unavailable, retry_after=_retry_after())
    carrier = registry.provider("address")
    key = address_check_key(order.pk, shipping)
    try:
        result = call_recorded(ProviderRequest("address", "check", key, order.pk), lambda: carrier.check_address(
            key=key, order_id=order.pk, address=shipping.address, city=shipping.city, state=shipping.state,
            zip_code=shipping.zip, timeout=address_check_timeout(order)))
    except GatewayTimeout as exc:
        opened_until = breakers.failed("address", str(exc))
        raise ProviderUnavailable(unavailable, retry_after=_retry_after() if opened_until else CHECK_RETRY_SECONDS
                                  ) from exc
    breakers.succeeded("address")
    if not result.ok:
        raise Conflict(f"The carrier does not deliver to this address ({result.reason}): the address of order "
                       f"{order.number} was not changed.", code="address_undeliverable",
                       fields={"zip": [result.reason]})


def order_address_correct(*, order: Order, shipping: ShippingAddress, actor) -> Order:
    """Replace the order's shipping address once the carrier said it delivers there
    (`address_deliverable`: Conflict 409 when it does not, ProviderUnavailable 503 when it cannot
    say now); an OrderEvent (and the staff audit trail) records the old and the new address with
    `actor`. Conflict (409) once the order has shipped, is being shipped or has ended
    (`order_address_refusal`). Nothing is written when refused. An unchanged address writes
    nothing, asks nothing and returns the order. The caller checked staff's permission
    (store.permissions.ORDER_CHANGE)."""
    if refusal := order_address_refusal(order):
        raise Conflict(refusal)
    if order_address(order) == shipping:
        return order
    # Asked outside the row lock: the carrier may take the step's whole timeout.
    address_deliverable(order=order, shipping=shipping)
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).get(pk=order.pk)
        if refusal := order_address_refusal(order):
            raise Conflict(refusal)
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
