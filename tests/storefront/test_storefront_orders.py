"""The customer's orders: list, order page (own orders only), live status partial, cancel."""
import re

from django.test import Client
from django.urls import reverse

from orders.models import Order
from tests.conftest import CARD_APPROVE, CARD_DECLINE
from tests.order_states import order_move


def signed_in(client, user):
    client.force_login(user)
    return client


def test_orders_pages_require_sign_in(client, customer, place_order):
    order = place_order(customer)
    for url in (reverse("orders:order_list"), reverse("orders:order_detail", args=[order.pk]),
                reverse("orders:order_status", args=[order.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(f"{reverse('accounts:login')}?next=")


def test_order_list_shows_own_orders_newest_first(client, customer, other_customer, place_order):
    first = place_order(customer, {"prod-002": 2})
    second = place_order(customer, {"prod-005": 1, "prod-006": 3})
    theirs = place_order(other_customer, {"prod-001": 1})
    html = signed_in(client, customer).get(reverse("orders:order_list")).content.decode()
    assert "<h1>Your Orders</h1>" in html
    assert html.index(second.number) < html.index(first.number)
    assert theirs.number not in html
    assert "4 items" in html and "2 items" in html
    assert "$99.98" in html
    assert 'class="state-badge state-badge--new">New<' in html


def test_order_list_is_paginated(client, customer, place_order):
    for _ in range(12):
        place_order(customer)
    client = signed_in(client, customer)
    html = client.get(reverse("orders:order_list")).content.decode()
    assert "Page 1 of 2" in html and "12 orders" in html
    assert len(re.findall(r'href="/orders/\d+/"', html)) == 10
    html = client.get(reverse("orders:order_list") + "?page=2").content.decode()
    assert "Page 2 of 2" in html and len(re.findall(r'href="/orders/\d+/"', html)) == 2


def test_order_list_empty_state(client, customer):
    html = signed_in(client, customer).get(reverse("orders:order_list")).content.decode()
    assert "No orders yet" in html


def test_order_page_shows_items_totals_address_and_a_polling_status(client, customer, place_order):
    order = place_order(customer, {"prod-002": 2})
    response = signed_in(client, customer).get(reverse("orders:order_detail", args=[order.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert f"<h1>Order {order.number}</h1>" in html
    assert "Wireless Mouse" in html and "$99.98" in html
    assert "1 Market Street" in html and "Springfield, IL 62701" in html
    assert f'hx-get="{reverse("orders:order_status", args=[order.pk])}?since=' in html
    assert 'hx-trigger="every 1s"' in html
    assert 'aria-label="Processing timeline"' in html


def test_another_customers_order_is_a_404(client, customer, other_customer, place_order):
    order = place_order(other_customer)
    client = signed_in(client, customer)
    assert client.get(reverse("orders:order_detail", args=[order.pk])).status_code == 404
    assert client.get(reverse("orders:order_status", args=[order.pk])).status_code == 404
    assert client.post(reverse("orders:order_cancel", args=[order.pk])).status_code == 404
    assert Order.objects.get(pk=order.pk).state == "new"


def test_status_partial_answers_200_while_the_order_is_under_way(client, customer, place_order):
    order = place_order(customer)
    response = signed_in(client, customer).get(reverse("orders:order_status", args=[order.pk]),
                                               headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="order-status"' in html and 'hx-trigger="every 1s"' in html
    assert "<html" not in html


def test_status_partial_answers_286_once_the_order_is_terminal(client, sync_pipeline, customer, place_order):
    order = place_order(customer, card=CARD_APPROVE)
    assert Order.objects.get(pk=order.pk).state == "delivered"
    response = signed_in(client, customer).get(reverse("orders:order_status", args=[order.pk]),
                                               headers={"HX-Request": "true"})
    assert response.status_code == 286
    html = response.content.decode()
    assert "Delivered" in html and "hx-trigger" not in html


def test_delivered_order_page_shows_processing_details(client, sync_pipeline, customer, place_order):
    order = Order.objects.get(pk=place_order(customer, card=CARD_APPROVE).pk)
    html = signed_in(client, customer).get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    assert "ending 4242" in html
    assert order.transaction_id in html and order.tracking_number in html and order.carrier in html
    assert "<dt>Delivered</dt>" in html and "Estimated delivery" not in html
    assert "hx-trigger" not in html  # nothing left to watch
    assert "Cancel order" not in html


def test_refunded_order_page_lists_the_refund(client, sync_pipeline, customer, place_order):
    order = Order.objects.get(pk=place_order(customer, {"prod-004": 1}, card=CARD_APPROVE, zip="00500").pk)
    assert order.state == "refunded"
    html = signed_in(client, customer).get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    assert "Refunds" in html and "$89.99" in html
    assert "The carrier could not create a label (ZIP 00500)" in html


# --- cancel -----------------------------------------------------------------------------

def test_cancel_button_is_shown_for_a_new_order_and_cancels_it(client, customer, place_order):
    order = place_order(customer)
    client = signed_in(client, customer)
    html = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    assert "Cancel order</button>" in html and "hx-confirm=" in html

    # Without JavaScript: a confirmation page first.
    confirm = client.get(reverse("orders:order_cancel", args=[order.pk]))
    assert confirm.status_code == 200
    assert f"Cancel order {order.number}?" in confirm.content.decode()

    response = client.post(reverse("orders:order_cancel", args=[order.pk]), follow=True)
    assert response.redirect_chain == [(reverse("orders:order_detail", args=[order.pk]), 302)]
    assert f"Order {order.number} has been cancelled." in response.content.decode()
    order = Order.objects.get(pk=order.pk)
    assert order.state == "cancelled"
    assert order.events.get(transition="cancel").actor == customer


def test_cancel_over_htmx_redirects_the_page(client, customer, place_order):
    order = order_move(place_order(customer), "validated")
    response = signed_in(client, customer).post(reverse("orders:order_cancel", args=[order.pk]),
                                                headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("orders:order_detail", args=[order.pk])
    assert Order.objects.get(pk=order.pk).state == "cancelled"


def test_cancel_is_refused_once_the_order_moved_on(client, sync_pipeline, customer, place_order):
    order = place_order(customer, card=CARD_DECLINE)
    assert Order.objects.get(pk=order.pk).state == "failed"
    client = signed_in(client, customer)
    assert "Cancel order" not in client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    response = client.post(reverse("orders:order_cancel", args=[order.pk]), follow=True)
    assert "can no longer be cancelled" in response.content.decode()
    assert Order.objects.get(pk=order.pk).state == "failed"
    # The no-JavaScript confirmation page is not offered either.
    response = client.get(reverse("orders:order_cancel", args=[order.pk]))
    assert response.status_code == 302


def test_the_cart_badge_and_state_badge_render_on_the_order_page(client, customer, place_order):
    order = place_order(customer)
    html = signed_in(client, customer).get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    assert re.search(r'<span class="state-badge state-badge--new">New</span>', html)


def test_staff_cancelling_a_customers_order_are_asked_for_a_note(client, customer, staff_user, place_order):
    order = place_order(customer)
    as_customer = Client()
    as_customer.force_login(customer)
    client = signed_in(client, staff_user)

    staff_page = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    staff_confirm = client.get(reverse("orders:order_cancel", args=[order.pk])).content.decode()
    customer_confirm = as_customer.get(reverse("orders:order_cancel", args=[order.pk])).content.decode()

    assert "Cancel order</button>" in staff_page and "hx-post=" not in staff_page  # to the page with the fields
    assert 'name="note"' in staff_confirm and 'name="customer_message"' in staff_confirm
    assert 'name="note"' not in customer_confirm
    too_long = client.post(reverse("orders:order_cancel", args=[order.pk]), {"customer_message": "x" * 201})
    assert too_long.status_code == 400
    assert Order.objects.get(pk=order.pk).state == "new"


def test_an_htmx_request_whose_session_ended_loads_the_sign_in_page_whole(client, customer, place_order):
    order = place_order(customer)
    page = f"/orders/{order.pk}/"

    response = client.get(f"/orders/{order.pk}/status/",
                          headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}"})

    assert response.status_code == 200
    assert response["HX-Redirect"] == "/accounts/login/?next=%2Forders%2F" + str(order.pk) + "%2F"
    assert response.content == b""


def test_a_page_request_whose_session_ended_is_redirected_as_before(client, customer, place_order):
    order = place_order(customer)

    response = client.get(f"/orders/{order.pk}/")

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/orders/{order.pk}/"
