"""The order events' data carry the split of the order's money (subtotal, shipping service and
cost, total) and each refund's shipping part, as GET /api/orders/{id} shows them."""
import json
from decimal import Decimal

from orders.models import Order
from orders.services import refund_create
from tests.order_states import order_move
from webhooks.models import WebhookDelivery


def test_order_events_carry_subtotal_shipping_and_total(db, settings, endpoint, place_order, customer, staff_user):
    settings.FREE_SHIPPING_THRESHOLD = ""  # standard is priced, at the rate card's price
    endpoint("/hooks", ["*"])
    order = order_move(place_order(customer, {"prod-001": 2}), "paid")
    assert order.shipping_cost > 0

    refund_create(order=Order.objects.get(pk=order.pk), amount=None, reason="Arrived late", actor=staff_user,
                  shipping=True)

    bodies = {body["type"]: body["data"] for body in
              (json.loads(row.body) for row in WebhookDelivery.objects.order_by("id"))}
    created = bodies["order.created"]
    assert (created["subtotal"], created["shippingService"], created["shippingCost"], created["total"]) == (
        299.98, "standard", float(order.shipping_cost), float(order.total))
    assert Decimal(str(created["total"])) == Decimal(str(created["subtotal"])) + Decimal(str(created["shippingCost"]))
    (refund,) = bodies["order.partially_refunded"]["refunds"]
    assert (refund["amount"], refund["shippingAmount"]) == (float(order.shipping_cost), float(order.shipping_cost))
