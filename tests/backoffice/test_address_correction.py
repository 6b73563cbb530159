"""Staff with change_order correct an order's shipping address until it ships; the timeline
records the old and the new address with who changed it, and the customer sees the new one."""
import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from orders.models import Order, OrderEvent

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
