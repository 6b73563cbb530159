"""Each event's `data` is the order as GET /api/orders/{id} shows it in the transaction that
published the event, and every event of the catalogue reaches an endpoint subscribed to it."""
import json
from decimal import Decimal

import pytest

from orders.models import Order
from orders.services import ShippingAddress
from orders.services.actions import refund_create
from orders.services.address import order_address_correct
from orders.signals import order_event
from webhooks import services
from webhooks.models import WebhookDelivery

SHOWN_APART = {"timeline", "actions"}  # in the API's answer, not in an event's data


@pytest.fixture
def api_at_each_event(jwt_client, staff_user):
    """{delivery message id: GET /api/orders/{id} as it answered when the event was published}."""
    api = jwt_client(staff_user)
    seen = {}

    def look(sender, order, event, **kwargs):
        shown = api.get(f"/api/orders/{order.pk}").json()
        for message_id in WebhookDelivery.objects.filter(event=event).values_list("message_id", flat=True):
            seen[message_id] = {key: value for key, value in shown.items() if key not in SHOWN_APART}

    order_event.connect(look, dispatch_uid="tests.webhooks.api_at_each_event")
    yield seen
    order_event.disconnect(dispatch_uid="tests.webhooks.api_at_each_event")


def test_each_events_data_is_the_order_as_the_api_showed_it_then(db, endpoint, order_in_state, place_order, customer,
                                                                staff_user, api_at_each_event):
    endpoint("/hooks", ["*"])
    shipped = order_in_state("delivered")
    refund_create(order=Order.objects.get(pk=shipped.pk), amount=Decimal("5.00"), reason="Scratched",
                  actor=staff_user)
    refund_create(order=Order.objects.get(pk=shipped.pk), amount=Order.objects.get(pk=shipped.pk).refundable_amount,
                  reason="Returned", actor=staff_user)
    corrected = order_in_state("paid")
    order_address_correct(order=corrected, actor=staff_user, shipping=ShippingAddress(
        address="1 New St", city="Springfield", state="IL", zip="62704"))

    bodies = {row.message_id: json.loads(row.body) for row in WebhookDelivery.objects.all()}

    types = {body["type"] for body in bodies.values()}
    assert {"order.created", "order.paid", "order.delivered", "order.partially_refunded", "order.refunded",
            "order.address_corrected"} <= types
    for message_id, body in bodies.items():
        assert body["data"] == api_at_each_event[message_id], body["type"]
    partial = next(body["data"] for body in bodies.values() if body["type"] == "order.partially_refunded")
    assert (partial["refundedAmount"], len(partial["refunds"])) == (5.0, 1)


def test_a_corrected_address_reaches_an_endpoint_subscribed_to_it(db, receiver, endpoint, order_in_state,
                                                                  staff_user):
    endpoint("/hooks", ["order.address_corrected"])
    order = order_in_state("paid")

    order_address_correct(order=order, actor=staff_user, shipping=ShippingAddress(
        address="1 New St", city="Springfield", state="IL", zip="62704"))
    services.deliveries_dispatch()

    [got] = receiver.of("/hooks")
    assert got.json["type"] == "order.address_corrected"
    assert got.json["data"]["shipping"] == {"address": "1 New St", "city": "Springfield", "state": "IL",
                                            "zip": "62704"}
