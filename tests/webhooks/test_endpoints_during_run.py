"""Endpoints changed by staff while a pipeline run publishes events: every event still reaches
every endpoint that exists, once, and the order goes on."""
import threading

import pytest
from django.db import connection, transaction

from orders.models import Order, OrderEvent
from orders.signals import order_event
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import EVENT_TYPES, deliveries_record, endpoints_read_once


@pytest.fixture
def deleted_after():
    """deleted_after(endpoint, event_type): staff delete the endpoint once the run's event of
    that type committed (the run goes on to publish more)."""
    chosen = {}

    def delete_after(sender, order, event, **kwargs):
        if event.event_type == chosen.get("after") and "done" not in chosen:
            chosen["done"] = event.event_type
            transaction.on_commit(lambda: WebhookEndpoint.objects.filter(pk=chosen["endpoint"].pk).delete())

    order_event.connect(delete_after, dispatch_uid="tests.webhooks.deleted_after")

    def choose(endpoint, event_type):
        chosen.update(endpoint=endpoint, after=event_type)
        return chosen

    yield choose
    order_event.disconnect(dispatch_uid="tests.webhooks.deleted_after")


# order.validated: the next event is a transition's; order.shipped: the next ones come with the
# carrier's answer, applied together.
@pytest.mark.parametrize("after", ["order.validated", "order.shipped"])
def test_an_endpoint_deleted_during_a_run_leaves_the_order_going_and_the_others_served_once(
        sync_pipeline, endpoint, place_order, customer, deleted_after, after):
    kept = endpoint("/kept", ["*"])
    chosen = deleted_after(endpoint("/gone", ["*"]), after)

    order = place_order(customer)

    order = Order.objects.get(pk=order.pk)
    assert chosen["done"] == after
    assert order.state == "delivered"
    published = list(OrderEvent.objects.filter(order=order, event_type__in=EVENT_TYPES).order_by("pk")
                     .values_list("pk", flat=True))
    assert len(published) > 2
    delivered = list(WebhookDelivery.objects.filter(endpoint=kept).order_by("pk").values_list("event_id", flat=True))
    assert delivered == published
    assert not WebhookEndpoint.objects.filter(url__endswith="/gone").exists()


def test_the_endpoints_a_run_keeps_are_its_own_and_gone_when_it_ends_even_by_an_error(
        sync_pipeline, endpoint, place_order, customer):
    order = place_order(customer)
    first, second, third, fourth = OrderEvent.objects.filter(order=order, event_type__in=EVENT_TYPES).order_by("pk")[:4]
    kept = endpoint("/kept", ["*"])
    seen = {}

    def elsewhere() -> None:  # another run's thread, while this one keeps its endpoints
        try:
            seen["thread"] = deliveries_record(order=order, event=second)
        finally:
            connection.close()

    with pytest.raises(RuntimeError), endpoints_read_once():
        deliveries_record(order=order, event=first)
        added = endpoint("/added", ["*"])
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        deliveries_record(order=order, event=third)
        raise RuntimeError("the run failed")
    deliveries_record(order=order, event=fourth)

    def endpoints_of(event):
        return set(WebhookDelivery.objects.filter(event=event).values_list("endpoint", flat=True))

    assert len(seen["thread"]) == 2
    assert [endpoints_of(event) for event in (first, second, third, fourth)] == [
        {kept.pk}, {kept.pk, added.pk}, {kept.pk}, {kept.pk, added.pk}]
