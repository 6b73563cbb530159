"""The carrier's webhook racing the pipeline's ask about the same parcel (two connections, real
threads): each update is kept once, the order is delivered once, and the customer and the
endpoints hear of each update once."""
import threading
from collections import Counter

import pytest
from django.db import connection
from django.test import Client

from notifications.models import Notification
from orders.models import Order, OrderEvent, TrackingEvent
from providers.models import GatewayCall
from providers.webhooks import TRACKING_UPDATED, CarrierEvent
from tests.tracking_events import deliver
from webhooks.models import WebhookDelivery
from webhooks.services import EVENT_TYPES, endpoint_create
from workflows.tasks import pipeline_run

pytestmark = pytest.mark.usefixtures("sync_pipeline")


def journey(order: Order) -> list[dict]:
    """The parcel's updates as the carrier holds them (the ask finds these, with these ids)."""
    label = GatewayCall.objects.get(gateway="shipping", operation="label", final=True, outcome="ok",
                                    result__reference=order.tracking_number)
    return label.result["data"]["tracking"]


@pytest.mark.parametrize("attempt", range(3))
def test_the_carriers_webhook_racing_the_ask_keeps_each_update_once(attempt, customer, place_order, settings,
                                                                    make_user):
    admin = make_user("integrations@example.com", is_staff=True, is_superuser=True)
    endpoint_create(actor=admin, url="http://127.0.0.1:9/hooks", events=["*"])
    settings.PIPELINE = {**settings.PIPELINE, "TRACKING_WAIT_SCALE": 1}  # the carrier's silence is not over yet
    order = Order.objects.get(pk=place_order(customer).pk)
    assert order.state == "shipped"
    updates = journey(order)
    assert [update["status"] for update in updates] == ["in_transit", "out_for_delivery", "delivered"]
    settings.PIPELINE = {**settings.PIPELINE, "TRACKING_WAIT_SCALE": 0}  # now the pipeline asks
    barrier, said = threading.Barrier(2), {}

    def carrier() -> None:
        try:
            barrier.wait()
            said["carrier"] = [deliver(Client(), CarrierEvent(
                id=update["id"], type=TRACKING_UPDATED, created=update["occurred_at"], order_id=order.pk,
                tracking_number=order.tracking_number, status=update["status"], occurred_at=update["occurred_at"],
                description=update["description"], location=update["location"])).status_code for update in updates]
        finally:
            connection.close()

    def pipeline() -> None:
        try:
            barrier.wait()
            pipeline_run(order.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=carrier), threading.Thread(target=pipeline)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    order.refresh_from_db()
    assert said["carrier"] == [200, 200, 200]
    assert order.state == "delivered"
    kept = list(TrackingEvent.objects.filter(order=order).order_by("pk").values_list("status", "outcome"))
    assert sorted(kept) == [("delivered", "applied"), ("in_transit", "applied"), ("out_for_delivery", "applied")] or (
        # An update the delivery overtook is kept, and ignored: the order was delivered by then.
        Counter(status for status, _ in kept) == Counter(["in_transit", "out_for_delivery", "delivered"])
        and ("delivered", "applied") in kept)
    published = Counter(OrderEvent.objects.filter(order=order).values_list("event_type", flat=True))
    assert published["order.delivered"] == 1
    assert published["order.in_transit"] <= 1 and published["order.out_for_delivery"] <= 1
    told = Counter(Notification.objects.filter(order=order).values_list("event_type", flat=True))
    assert all(count == 1 for count in told.values()), told
    assert told["order.delivered"] == 1
    sent = Counter(WebhookDelivery.objects.filter(order=order).values_list("event_id", flat=True))
    assert all(count == 1 for count in sent.values())
    assert set(sent) == set(OrderEvent.objects.filter(order=order, event_type__in=EVENT_TYPES)
                            .values_list("pk", flat=True))
