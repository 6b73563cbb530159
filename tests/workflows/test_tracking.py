"""The carrier's tracking in the pipeline (in-process; the tests' carrier does not call back): a
shipped order waits for the carrier's news and, when it stays silent, the pipeline asks it. The
test ZIPs end in a delivery problem (00404) or a parcel returned to the shop (00303)."""
import threading
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_q.models import Schedule

from catalog.models import Product
from notifications.models import Notification
from orders.models import Order, Refund, TrackingEvent
from orders.services import refund_create
from orders.services.actions import RefundUnderWay
from providers import breakers, simulation
from providers.models import GatewayCall, ProviderCall
from providers.simulated import ShippingGateway
from tests.tracking_events import ADDRESS_NOT_FOUND_ZIP, RETURN_TO_SENDER_ZIP, carrier_event, deliver, tracking_shown
from workflows.pipeline import RefundInFull, pipeline_advance
from workflows.tasks import pipeline_run

pytestmark = pytest.mark.usefixtures("sync_pipeline")


def stock(product: str) -> int:
    return Product.objects.get(public_id=product).stock


def test_with_the_carrier_silent_the_pipeline_asks_it_and_the_order_ends_delivered(customer, place_order):
    order = Order.objects.get(pk=place_order(customer).pk)

    assert order.state == "delivered"
    updates = list(TrackingEvent.objects.filter(order=order).values_list("status", "via", "outcome"))
    assert updates == [("in_transit", "lookup", "applied"), ("out_for_delivery", "lookup", "applied"),
                       ("delivered", "lookup", "applied")]
    asked = ProviderCall.objects.get(order_id=order.pk, provider="shipping", operation="tracking")
    assert (asked.outcome, asked.idempotency_key) == ("ok", order.tracking_number)
    client = Client()
    client.force_login(customer)
    assert tracking_shown(client, order) == ["In transit", "Out for delivery", "Delivered"]


def test_the_carrier_answers_only_the_updates_whose_time_has_come(customer, place_order, settings):
    settings.SIMULATOR = {**settings.SIMULATOR, "TRACKING_STEP_SECONDS": 3600}
    settings.PIPELINE = {**settings.PIPELINE, "TRACKING_WAIT_SCALE": 0}  # asked at once
    order = place_order(customer)

    order.refresh_from_db()
    assert order.state == "shipped"  # asked at once: nothing has happened to the parcel yet
    assert not TrackingEvent.objects.filter(order=order).exists()
    assert ShippingGateway().tracking(tracking_number="1Z-nobody").found is False
    # It asks again later, after a longer wait.
    (again,) = Schedule.objects.filter(name__startswith=f"pipeline-order-{order.pk}-at-")
    assert again.next_run >= timezone.now() + timedelta(seconds=1)


def test_an_address_not_found_leaves_the_order_shipped_in_needs_attention(customer, place_order, shop_staff):
    order = place_order(customer, zip=ADDRESS_NOT_FOUND_ZIP)

    order.refresh_from_db()
    assert order.state == "shipped"
    assert list(TrackingEvent.objects.filter(order=order).values_list("status", flat=True)) == ["in_transit",
                                                                                               "exception"]
    staff = Client()
    staff.force_login(shop_staff)
    page = staff.get("/admin/orders/order/attention/")
    assert page.status_code == 200
    (section,) = [item["section"] for item in page.context["sections"] if item["section"].key == "delivery"]
    assert [listed.number for listed in section.orders] == [order.number]
    html = page.content.decode()
    assert "Address not found" in html and order.tracking_number in html and "confirm the address" in html
    assert Notification.objects.filter(order=order, event_type__startswith="order.delivery_exception").count() == 1
    assert any(message.subject == f"A delivery problem with order {order.number}" for message in mail.outbox)
    customer_page = Client()
    customer_page.force_login(customer)
    assert tracking_shown(customer_page, order) == ["In transit", "Delivery problem"]

    # Asked again, the carrier has nothing new: the order stays where it is, told once.
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    assert pipeline_advance(order.pk) == "shipped"
    assert TrackingEvent.objects.filter(order=order).count() == 2
    assert Notification.objects.filter(order=order, event_type__startswith="order.delivery_exception").count() == 1


def test_a_parcel_returned_to_sender_is_restocked_refunded_once_and_ends_returned(customer, place_order):
    before = stock("prod-001")
    order = place_order(customer, {"prod-001": 2}, zip=RETURN_TO_SENDER_ZIP)

    order = Order.objects.get(pk=order.pk)
    assert order.state == "returned"
    assert order.refunded_amount == order.total and order.total > Decimal("0")
    assert stock("prod-001") == before
    (refund,) = Refund.objects.filter(order=order)
    assert refund.amount == order.total
    assert GatewayCall.objects.filter(gateway="payment", operation="refund", order_id=order.pk).count() == 1
    transitions = list(order.events.exclude(transition="").values_list("transition", flat=True))
    assert transitions[-2:] == ["return_to_sender", "return_refunded"]
    notice = Notification.objects.get(order=order, event_type="order.returned")
    assert f"${order.total}" in notice.body

    # Run again (a redelivered task, the saga's step twice): nothing more is refunded or restocked.
    assert pipeline_run(order.pk) == "returned"
    RefundInFull("Returned to sender").run(order)
    assert Refund.objects.filter(order=order).count() == 1
    assert Order.objects.get(pk=order.pk).refunded_amount == order.total
    assert stock("prod-001") == before
    client = Client()
    client.force_login(customer)
    assert tracking_shown(client, order) == ["In transit", "Delivery problem", "Returned to the shop"]
    assert "The parcel is back at the shop" in client.get(f"/orders/{order.pk}/").content.decode()


def test_a_carrier_that_does_not_answer_leaves_the_order_shipped_and_is_asked_again(customer, place_order, settings):
    settings.PIPELINE = {**settings.PIPELINE, "TRACKING_WAIT_SCALE": 1}  # the default version's hour of silence
    order = place_order(customer)
    assert Order.objects.get(pk=order.pk).state == "shipped"  # waiting for the carrier's news
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(hours=2))

    simulation.outages_forget()
    call_command("provider_outage", "shipping", "--seconds", "60", "--mode", "error", stdout=StringIO())
    try:
        assert pipeline_run(order.pk) == "shipped"
    finally:
        call_command("provider_outage", "shipping", "--end", stdout=StringIO())
        simulation.outages_forget()

    asked = ProviderCall.objects.get(order_id=order.pk, provider="shipping", operation="tracking")
    assert asked.outcome == "timeout"
    assert not TrackingEvent.objects.filter(order=order).exists()
    due = Schedule.objects.filter(name__startswith=f"pipeline-order-{order.pk}-at-").order_by("-next_run").first()
    assert due is not None and due.next_run > timezone.now()

    # The carrier is back: the next ask delivers.
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(days=1))
    ProviderCall.objects.filter(order_id=order.pk).update(created_at=timezone.now() - timedelta(days=1))
    assert pipeline_run(order.pk) == "delivered"


def test_a_carrier_answering_again_sets_the_count_of_unanswered_asks_back(customer, place_order, settings):
    settings.SIMULATOR = {**settings.SIMULATOR, "TRACKING_STEP_SECONDS": 3600}  # nothing happens to the parcel yet
    order = place_order(customer)
    assert Order.objects.get(pk=order.pk).state == "shipped"
    # Two asks went unanswered, the last a day ago: the next run asks.
    Order.objects.filter(pk=order.pk).update(step_failures=2, updated_at=timezone.now() - timedelta(days=1))
    ProviderCall.objects.filter(order_id=order.pk).update(created_at=timezone.now() - timedelta(days=1))

    assert pipeline_run(order.pk) == "shipped"

    assert Order.objects.get(pk=order.pk).step_failures == 0


@pytest.mark.parametrize("attempt", range(3))
def test_a_staff_refund_racing_the_parcels_return_refunds_once_and_restocks_once(
        attempt, customer, place_order, settings, staff_user):
    settings.PIPELINE = {**settings.PIPELINE, "TRACKING_WAIT_SCALE": 1}  # the default version's hour of silence
    before = stock("prod-001")
    order = Order.objects.get(pk=place_order(customer, {"prod-001": 2}).pk)
    assert order.state == "shipped"
    barrier, said = threading.Barrier(2), {}

    def carrier() -> None:
        try:
            barrier.wait()
            said["carrier"] = deliver(Client(), carrier_event(order, "returned_to_sender", description="Back")).status_code
        finally:
            connection.close()

    def staff() -> None:
        try:
            barrier.wait()
            refund_create(order=Order.objects.get(pk=order.pk), amount=None, reason="Customer asked", actor=staff_user)
            said["staff"] = "refunded"
        except RefundUnderWay:
            said["staff"] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=carrier), threading.Thread(target=staff)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pipeline_run(order.pk)  # the saga's refund, when the return came first

    order.refresh_from_db()
    assert said["carrier"] == 200 and said["staff"] in ("refunded", "refused")
    assert (order.state, order.stock_status) == ("refunded" if said["staff"] == "refunded" else "returned", "returned")
    assert order.refunded_amount == order.total
    assert Refund.objects.filter(order=order).count() == 1
    assert GatewayCall.objects.filter(gateway="payment", operation="refund", order_id=order.pk).count() == 1
    assert stock("prod-001") == before


def test_while_the_shipping_circuit_is_open_the_carrier_is_asked_later_and_later(customer, place_order, settings):
    settings.PIPELINE = {**settings.PIPELINE, "TRACKING_WAIT_SCALE": 1}  # the default version: 1 h, asked 6 h apart at most
    order = place_order(customer)
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    while breakers.allow("shipping"):
        breakers.failed("shipping", "down")
    asked_at = []
    for _ in range(3):
        Schedule.objects.all().delete()
        started = timezone.now()
        assert pipeline_run(order.pk) == "shipped"
        (again,) = Schedule.objects.filter(name__startswith=f"pipeline-order-{order.pk}-at-")
        asked_at.append((again.next_run - started).total_seconds())

    assert asked_at[0] >= 60 and asked_at[0] < asked_at[1] < asked_at[2], asked_at
    assert not ProviderCall.objects.filter(order_id=order.pk, operation="tracking").exists()

    breakers.circuit_close("shipping")  # the carrier answers again: the order is delivered
    assert pipeline_run(order.pk) == "delivered"
