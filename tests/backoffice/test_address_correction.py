"""Staff with change_order correct an order's shipping address until it ships; the timeline
records the old and the new address with who changed it, and the customer sees the new one."""
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderEvent
from providers.models import GatewayCall, ProviderCall, SimulatedOutage
from providers.simulation import outages_forget
from tests.review_rules import rule_create
from tests.workflow_versions import version_publish_with

NEW = {"address": "742 Evergreen Terrace", "city": "Shelbyville", "state": "IL", "zip": "62565"}
OLD = {"address": "1 Market Street", "city": "Springfield", "state": "IL", "zip": "62701"}


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def correct(client: Client, order: Order, data=None, **kwargs):
    return client.post(reverse("admin:orders_order_address", args=[order.pk]), data or NEW, **kwargs)


def address_of(order: Order) -> dict:
    order = Order.objects.get(pk=order.pk)
    return {"address": order.ship_address, "city": order.ship_city, "state": order.ship_state, "zip": order.ship_zip}


@pytest.mark.parametrize("state", ["new", "awaiting_approval", "paid", "payment_failed", "stalled"])
def test_staff_correct_the_address_before_shipping_and_the_timeline_records_it(state, order_in, shop_staff,
                                                                               customer):
    order = order_in(state)
    clerk = web(shop_staff)
    page = clerk.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "Correct shipping address" in page
    form = clerk.get(reverse("admin:orders_order_address", args=[order.pk]))
    assert form.status_code == 200 and 'value="1 Market Street"' in form.content.decode()

    response = correct(clerk, order, follow=True)

    assert f"The shipping address of order {order.number} was corrected." in response.content.decode()
    assert address_of(order) == NEW
    assert Order.objects.get(pk=order.pk).state == state
    event = OrderEvent.objects.get(order=order, event_type="order.address_corrected")
    assert (event.actor, event.actor_email, event.actor_kind) == (shop_staff, shop_staff.email, "staff")
    assert event.detail == {"old_address": OLD, "new_address": NEW}
    customer_page = web(customer).get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    assert "742 Evergreen Terrace" in customer_page and "Shelbyville, IL 62565" in customer_page
    assert "1 Market Street" not in customer_page


@pytest.mark.parametrize("state", ["shipping", "shipped", "delivered", "ship_failed"])
def test_once_shipped_the_address_is_refused(state, order_in, shop_staff):
    order = order_in(state)
    clerk = web(shop_staff)

    page = clerk.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    response = correct(clerk, order, follow=True)

    assert "Correct shipping address" not in page
    assert "its address can no longer be changed, the shipment has already been sent to the carrier" \
        in response.content.decode()
    assert address_of(order) == OLD
    assert not OrderEvent.objects.filter(event_type="order.address_corrected").exists()


def test_staff_without_change_order_are_refused(order_in, make_user):
    order = order_in("paid")
    viewer = make_user("viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="view_order"))

    page = web(viewer).get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    response = correct(web(viewer), order)

    assert "Correct shipping address" not in page
    assert response.status_code == 403
    assert address_of(order) == OLD


def test_customers_cannot_reach_it(order_in, customer):
    order = order_in("paid")

    response = correct(web(customer), order)

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert address_of(order) == OLD


def test_a_bad_zip_is_refused_with_the_form_and_nothing_written(order_in, shop_staff):
    order = order_in("paid")

    response = correct(web(shop_staff), order, {**NEW, "zip": "ABC"})

    assert response.status_code == 400
    assert "Enter a ZIP code like 12345" in response.content.decode()
    assert address_of(order) == OLD
    assert not OrderEvent.objects.filter(event_type="order.address_corrected").exists()


def test_the_form_needs_its_csrf_token(order_in, shop_staff):
    order = order_in("paid")
    client = Client(enforce_csrf_checks=True)
    client.force_login(shop_staff)

    assert correct(client, order).status_code == 403
    assert address_of(order) == OLD


def test_the_same_address_again_records_nothing(order_in, shop_staff):
    order = order_in("paid")

    correct(web(shop_staff), order, OLD)

    assert not OrderEvent.objects.filter(event_type="order.address_corrected").exists()


# --- The carrier checks a corrected address before it is written --------------------

UNDELIVERABLE = {**NEW, "zip": "00000"}


@pytest.fixture
def no_outage():
    """No outage of a test here is remembered by a later one (the simulators read them once a second)."""
    outages_forget()
    yield
    outages_forget()


def carrier_asked(order: Order) -> list[tuple[str, str]]:
    """The address checks recorded for the order: (key, outcome), oldest first."""
    return list(ProviderCall.objects.filter(order_id=order.pk, provider="address", operation="check")
                .order_by("id").values_list("idempotency_key", "outcome"))


@pytest.mark.parametrize("state", ["awaiting_approval", "validated", "paying", "payment_failed", "stalled"])
def test_an_address_the_carrier_does_not_deliver_to_is_refused_with_a_form_error(state, order_in, shop_staff,
                                                                                 no_outage):
    order = order_in(state)

    response = correct(web(shop_staff), order, UNDELIVERABLE)

    assert response.status_code == 409
    page = response.content.decode()
    assert "The carrier does not deliver to this address (Undeliverable address (ZIP 00000))" in page
    assert f"the address of order {order.number} was not changed" in page
    assert 'value="00000"' in page  # the form again, with what staff typed
    assert address_of(order) == OLD and Order.objects.get(pk=order.pk).state == state
    assert not OrderEvent.objects.filter(event_type="order.address_corrected").exists()
    [(key, outcome)] = carrier_asked(order)[-1:]
    assert outcome == "declined" and key.startswith(f"order-{order.pk}-address-")


def test_a_held_order_corrected_to_an_undeliverable_address_is_never_charged(sync_pipeline, place_order, customer,
                                                                            shop_staff, no_outage):
    rule_create("Big orders", "total", "gte", "1000", reason="Over $1,000")
    order = place_order(customer, {"prod-001": 7})
    assert Order.objects.get(pk=order.pk).state == "awaiting_approval"
    clerk = web(shop_staff)

    refused = correct(clerk, order, UNDELIVERABLE)
    clerk.post(reverse("admin:orders_order_action", args=[order.pk, "approve"]))

    assert refused.status_code == 409
    order = Order.objects.get(pk=order.pk)
    assert order.state == "delivered" and order.ship_zip == OLD["zip"]
    assert not order.refunds.exists()
    assert list(GatewayCall.objects.filter(order_id=order.pk, gateway="shipping", operation="label")
                .values_list("outcome", flat=True)) == ["ok"]


def test_a_deliverable_correction_is_checked_once_under_its_own_key(order_in, shop_staff, no_outage):
    order = order_in("awaiting_approval")
    before = carrier_asked(order)

    correct(web(shop_staff), order)

    assert address_of(order) == NEW
    [(key, outcome)] = carrier_asked(order)[len(before):]
    assert outcome == "ok" and key not in {asked for asked, _ in before}


def test_when_the_carrier_cannot_answer_the_correction_waits_503_with_retry_after(order_in, shop_staff, no_outage):
    version_publish_with({"steps.address.circuit.failures": 1})
    order = order_in("awaiting_approval")
    SimulatedOutage.objects.create(provider="address", mode="error", until=timezone.now() + timedelta(minutes=5))
    outages_forget()
    clerk = web(shop_staff)

    timed_out = correct(clerk, order)
    asked = len(carrier_asked(order))
    circuit_open = correct(clerk, order)

    for response in (timed_out, circuit_open):
        assert response.status_code == 503 and int(response["Retry-After"]) > 0
        assert "The carrier cannot check the address now; try again shortly." in response.content.decode()
    assert len(carrier_asked(order)) == asked  # the open circuit spared the carrier the second ask
    assert address_of(order) == OLD
    assert not OrderEvent.objects.filter(event_type="order.address_corrected").exists()


@pytest.mark.parametrize("state", ["failed", "cancelled"])
def test_an_ended_order_address_is_refused_with_the_reason(state, order_in, shop_staff):
    order = order_in(state)
    clerk = web(shop_staff)

    asked = carrier_asked(order)
    page = clerk.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    response = correct(clerk, order, follow=True)

    assert "Correct shipping address" not in page
    assert f"is {Order.objects.get(pk=order.pk).get_state_display().lower()}: it has ended, so its address can " \
        "no longer be changed" in response.content.decode()
    assert address_of(order) == OLD
    assert not OrderEvent.objects.filter(event_type="order.address_corrected").exists()
    assert carrier_asked(order) == asked  # refused before the carrier is asked
