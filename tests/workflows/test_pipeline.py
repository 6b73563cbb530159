"""The pipeline in-process (django-q2 sync mode): idempotent steps, notifications, the sweeper."""
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from notifications.models import Notification
from orders.models import Order
from providers.models import GatewayCall, ProviderCall
from tests.conftest import CARD_APPROVE, CARD_DECLINE
from tests.order_states import order_move
from workflows.pipeline import PIPELINE, pipeline_advance
from workflows.queueing import pipeline_schedule
from workflows.tasks import pipeline_run, shipped_unscheduled, stuck_orders, sweep_stuck_orders


def _calls(order_id, gateway, operation, outcome="ok"):
    return GatewayCall.objects.filter(order_id=order_id, gateway=gateway, operation=operation, outcome=outcome).count()


def test_placement_runs_the_pipeline_to_delivered_and_notifies(sync_pipeline, customer, place_order):
    order = place_order(customer, card=CARD_APPROVE)
    order = Order.objects.get(pk=order.pk)
    assert order.state == "delivered"
    events = list(Notification.objects.filter(order=order).values_list("event_type", flat=True))
    assert sorted(events) == ["order.created", "order.delivered", "order.paid", "order.shipped"]
    assert {message.subject for message in mail.outbox} == set(
        Notification.objects.filter(order=order).values_list("title", flat=True))
    assert all(message.to == [customer.email] for message in mail.outbox)


@pytest.mark.parametrize("state", ["checking_address", "validating", "paying", "shipping", "ship_failed"])
def test_running_a_step_twice_charges_ships_and_refunds_once(customer, place_order, state, settings):
    """Simulate a redelivered task: the same step runs again after it already ran.

    The test's transaction never commits, so placement's on-commit pipeline run does not
    start; the test drives the stages itself.
    """
    zip_code = "00500" if state == "ship_failed" else "62701"
    order = place_order(customer, card=CARD_APPROVE, zip=zip_code)
    # Walk the order to `state`, then run that state's stage twice, as two deliveries would.
    while Order.objects.get(pk=order.pk).state != state:
        current = Order.objects.get(pk=order.pk)
        PIPELINE[current.state].run(current)
    stale = Order.objects.get(pk=order.pk)
    PIPELINE[state].run(stale)
    PIPELINE[state].run(stale)  # the redelivered copy, holding the same stale order
    pipeline_advance(order.pk)
    pipeline_advance(order.pk)
    order = Order.objects.get(pk=order.pk)
    assert order.state == ("refunded" if zip_code == "00500" else "delivered")
    assert _calls(order.pk, "address", "check") == 1
    assert _calls(order.pk, "payment", "charge") == 1
    assert _calls(order.pk, "shipping", "label") == (0 if zip_code == "00500" else 1)
    assert order.refunds.count() == (1 if zip_code == "00500" else 0)
    assert _calls(order.pk, "payment", "refund") == (1 if zip_code == "00500" else 0)


def test_sweeper_completes_an_order_left_mid_step(customer, place_order, settings):
    """A worker killed mid-payment: the order sits in `paying` with no task queued."""
    settings.PIPELINE_TASKS_SYNC = True  # the sweeper's re-enqueued run happens in-process
    order = order_move(place_order(customer, card=CARD_APPROVE), "paying")  # never committed: no run queued
    assert list(stuck_orders()) == []  # not stuck yet: within the threshold
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(minutes=10))
    assert list(stuck_orders()) == [order.pk]
    assert sweep_stuck_orders() == 1
    assert Order.objects.get(pk=order.pk).state == "delivered"
    assert list(stuck_orders()) == []


def test_parcels_on_their_way_never_crowd_out_stuck_orders_and_a_lost_schedule_is_found(
        customer, place_order, settings):
    settings.PIPELINE_TASKS_SYNC = True
    settings.PIPELINE = {**settings.PIPELINE, "TRACKING_WAIT_SCALE": 1}  # the default version's hour of silence
    long_ago = timezone.now() - timedelta(days=2)
    scheduled, lost = (order_move(place_order(customer, card=CARD_APPROVE), "shipped") for _ in range(2))
    pipeline_schedule(order_id=scheduled.pk, at=timezone.now() + timedelta(hours=1))  # its next ask
    paying = order_move(place_order(customer, card=CARD_APPROVE), "paying")
    Order.objects.filter(pk__in=[scheduled.pk, lost.pk, paying.pk]).update(updated_at=long_ago)

    assert list(stuck_orders()) == [paying.pk]  # shipped orders wait for the carrier by design
    assert list(shipped_unscheduled()) == [lost.pk]
    assert sweep_stuck_orders() == 2
    assert Order.objects.get(pk=paying.pk).state == "shipped"  # paid and on its way
    asked = ProviderCall.objects.filter(provider="shipping", operation="tracking").values_list("order_id", flat=True)
    assert list(asked) == [lost.pk]  # its run asked the carrier, and scheduled the next ask
    assert list(shipped_unscheduled()) == []


def test_declined_order_fails_and_tells_the_customer_why(sync_pipeline, customer, place_order):
    order = place_order(customer, card=CARD_DECLINE)
    order = Order.objects.get(pk=order.pk)
    assert order.state == "failed"
    assert "declined" in order.failure_reason.lower()
    failed = Notification.objects.get(order=order, event_type="order.failed")
    assert "declined" in failed.body.lower()


def test_pipeline_run_on_a_terminal_order_does_nothing(sync_pipeline, customer, place_order):
    order = place_order(customer, card=CARD_APPROVE)
    events = Order.objects.get(pk=order.pk).events.count()
    assert pipeline_run(order.pk) == "delivered"
    assert Order.objects.get(pk=order.pk).events.count() == events


def test_transition_events_carry_the_request_id(sync_pipeline, customer_api, catalog):
    response = customer_api.post(
        "/api/orders",
        {"items": [{"productId": "prod-002", "quantity": 1}],
         "shipping": {"address": "1 Main", "city": "X", "state": "CA", "zip": "12345"},
         "payment": {"card": "4242424242424242"}},
        format="json", headers={"X-Request-ID": "abc-123"},
    )
    assert response["X-Request-ID"] == "abc-123"
    order = Order.objects.get(pk=response.json()["id"])
    assert order.state == "delivered"
    assert set(order.events.values_list("request_id", flat=True)) == {"abc-123"}


def test_the_sweeper_runs_every_sweep_every_minutes_after_a_migrate(db, settings):
    from django.core.management.sql import emit_post_migrate_signal
    from django_q.models import Schedule

    sweeper = Schedule.objects.get(name="sweep-stuck-orders")  # made by a migration, every minute
    assert (sweeper.func, sweeper.minutes) == ("workflows.tasks.sweep_stuck_orders", 1)
    settings.PIPELINE = {**settings.PIPELINE, "SWEEP_EVERY_MINUTES": 5}

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")  # what `migrate` ends with

    assert Schedule.objects.get(name="sweep-stuck-orders").minutes == 5
