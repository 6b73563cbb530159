"""Order events reach a real receiver on loopback: once each, in order per order, signed, retried
with the same webhook-id, never for a change that rolled back; a receiver that keeps failing is
disabled and staff are told."""
import socket
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from orders.models import Order, OrderEvent
from orders.services import order_transition
from tests.order_states import arguments
from webhooks import services
from webhooks.events import EVENT_TYPES
from webhooks.models import WebhookDelivery, WebhookEndpoint


def cancel(order: Order) -> None:
    order_transition(order_id=order.pk, name="cancel", **arguments("cancel"))


def dispatch() -> int:
    """The scheduled dispatcher's run (tasks run in-process in the tests)."""
    return services.deliveries_dispatch()


def test_a_receiver_gets_every_event_of_an_order_once_in_order_signed(sync_pipeline, receiver, jwt_client,
                                                                       webhook_admin, place_order, customer):
    created = jwt_client(webhook_admin).post("/api/webhooks", {"url": receiver.url + "/hooks", "events": ["*"],
                                                               "enabled": True}, format="json")
    assert created.status_code == 201
    secret = created.json()["secret"]

    order = place_order(customer)  # commits; the pipeline runs it to the end in-process, and the webhooks go out
    dispatch()  # nothing is left over

    order = Order.objects.get(pk=order.pk)
    assert order.state == "delivered"
    published = [e.event_type for e in OrderEvent.objects.filter(order=order).order_by("pk")
                 if e.event_type in EVENT_TYPES]
    got = receiver.of("/hooks")
    assert [r.json["type"] for r in got] == published
    assert published[0] == "order.created" and published[-1] == "order.delivered"
    assert len({r.headers["webhook-id"] for r in got}) == len(got)
    for request in got:
        assert request.signed_with(secret)
        assert request.json["id"] == request.headers["webhook-id"]
        assert request.json["data"]["id"] == order.pk
        carrier = request.json["type"] in ("order.in_transit", "order.out_for_delivery", "order.delivered")
        assert set(request.json) == {"id", "type", "createdAt", "data"} | ({"tracking"} if carrier else set())
    assert got[-1].json["data"]["state"] == "delivered" and got[0].json["data"]["state"] == "new"
    # The carrier's updates, each with what it said.
    assert [r.json["tracking"]["status"] for r in got if "tracking" in r.json] == ["in_transit", "out_for_delivery",
                                                                                  "delivered"]
    assert got[-1].json["tracking"]["description"] and got[-1].json["tracking"]["occurredAt"]


def test_a_rolled_back_change_sends_nothing(sync_pipeline, receiver, endpoint, place_order, customer):
    endpoint()

    with pytest.raises(RuntimeError), transaction.atomic():
        place_order(customer)
        raise RuntimeError("the request failed after placing")

    assert dispatch() == 0
    assert not Order.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert receiver.received == []


def test_a_retry_carries_the_same_id_and_bytes_and_the_orders_later_events_wait(db, receiver, endpoint,
                                                                                place_order, customer):
    hooks = endpoint("/hooks", ["order.created", "order.cancelled"])
    receiver.answers["/hooks"] = [500]
    first = place_order(customer)
    cancel(first)
    second = place_order(customer)

    dispatch()  # the first order's first event fails; the second order does not wait for it

    assert [(r.json["type"], r.json["data"]["id"]) for r in receiver.received] == [
        ("order.created", first.pk), ("order.created", second.pk)]
    failed = WebhookDelivery.objects.get(endpoint=hooks, order=first, event_type="order.created")
    assert (failed.status, failed.attempts, failed.last_error) == ("pending", 1, "HTTP 500")
    assert WebhookDelivery.objects.get(order=first, event_type="order.cancelled").attempts == 0

    dispatch()  # the retry goes, then the order's next event

    retried, validated = receiver.received[2:]
    assert retried.headers["webhook-id"] == receiver.received[0].headers["webhook-id"]
    assert retried.body == receiver.received[0].body
    assert retried.signed_with(hooks.secret)
    assert validated.json["type"] == "order.cancelled"
    assert [a.status_code for a in failed.attempt_log.order_by("number")] == [500, 200]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_an_event_given_up_on_is_failed_and_no_longer_holds_up_the_order(db, receiver, endpoint, place_order,
                                                                         customer, settings):
    settings.WEBHOOK_RETRY_HOURS = 0
    endpoint("/hooks", ["order.created", "order.cancelled"])
    receiver.answers["/hooks"] = [500]
    order = place_order(customer)
    cancel(order)

    dispatch()

    assert [r.json["type"] for r in receiver.received] == ["order.created", "order.cancelled"]
    assert WebhookDelivery.objects.get(event_type="order.created").status == "failed"
    assert WebhookDelivery.objects.get(event_type="order.cancelled").status == "delivered"


def test_an_endpoint_failing_past_the_limit_is_disabled_staff_told_and_its_backlog_sent_once_enabled(
        db, receiver, endpoint, place_order, customer, settings, jwt_client, webhook_admin):
    settings.WEBHOOK_DISABLE_AFTER = 3
    healthy = endpoint("/hooks", ["order.created", "order.cancelled"])
    broken = endpoint("/down", ["order.created", "order.cancelled"])
    order = place_order(customer)
    cancel(order)

    for _ in range(5):
        dispatch()

    broken.refresh_from_db()
    assert (broken.enabled, broken.consecutive_failures) == (False, 3)
    assert broken.disabled_reason == "Disabled after 3 failed attempts in a row."
    assert len(receiver.of("/down")) == 3  # nothing more once disabled
    assert [r.json["type"] for r in receiver.of("/hooks")] == ["order.created", "order.cancelled"]
    assert [m.to for m in mail.outbox] == [[webhook_admin.email]]
    assert broken.url in mail.outbox[0].subject and "HTTP 503" in mail.outbox[0].body
    assert WebhookEndpoint.objects.get(pk=healthy.pk).enabled

    # Fixed: pointed at a receiver that answers, enabled again; the backlog goes, in order.
    response = jwt_client(webhook_admin).patch(f"/api/webhooks/{broken.pk}",
                                               {"url": receiver.url + "/fixed", "enabled": True}, format="json")

    assert response.status_code == 200
    assert (response.json()["enabled"], response.json()["consecutiveFailures"]) == (True, 0)
    dispatch()  # the test's transaction never commits: the dispatcher does what the commit would
    assert [r.json["type"] for r in receiver.of("/fixed")] == ["order.created", "order.cancelled"]


def test_a_hanging_receiver_times_out_and_other_orders_go(db, endpoint, receiver, place_order, customer, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.2
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts the connection, never answers
    try:
        stuck = WebhookEndpoint.objects.create(url=f"http://127.0.0.1:{silent.getsockname()[1]}/", events=["*"],
                                               secret="whsec_" + "A" * 32)
        endpoint("/hooks", ["order.created"])
        place_order(customer)

        dispatch()
    finally:
        silent.close()

    delivery = WebhookDelivery.objects.get(endpoint=stuck)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "timed out" in delivery.last_error
    assert [r.json["type"] for r in receiver.of("/hooks")] == ["order.created"]


def test_replaying_a_time_range_resends_the_same_bytes_and_ids(db, receiver, endpoint, place_order, customer,
                                                               jwt_client, webhook_admin):
    hooks = endpoint("/hooks", ["order.created"])
    place_order(customer)
    place_order(customer)
    dispatch()
    first_two = [(r.headers["webhook-id"], r.body) for r in receiver.received]

    now = timezone.now()
    response = jwt_client(webhook_admin).post(f"/api/webhooks/{hooks.pk}/replay", {
        "since": (now - timedelta(hours=1)).isoformat(), "until": (now + timedelta(minutes=1)).isoformat()},
        format="json")
    dispatch()

    assert response.json() == {"replayed": 2}
    assert [(r.headers["webhook-id"], r.body) for r in receiver.received[2:]] == first_two


def test_a_range_replay_holding_too_many_deliveries_is_refused(db, receiver, endpoint, place_order, customer,
                                                               jwt_client, webhook_admin, monkeypatch):
    monkeypatch.setattr(services, "REPLAY_LIMIT", 1)
    hooks = endpoint("/hooks", ["order.created"])
    place_order(customer)
    place_order(customer)
    now = timezone.now()

    response = jwt_client(webhook_admin).post(f"/api/webhooks/{hooks.pk}/replay", {
        "since": (now - timedelta(hours=1)).isoformat(), "until": (now + timedelta(minutes=1)).isoformat()},
        format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "At most 1 deliveries can be replayed at once; give a narrower range."
    assert set(WebhookDelivery.objects.values_list("attempts", flat=True)) == {0}
