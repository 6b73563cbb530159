"""Every amount the customer reads, on the pages, in the e-mails and the notifications, has its
currency and thousands separators ("$1,049.93"); the API keeps the machine form ("1049.93")."""
from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import Product
from notifications.models import Notification
from notifications.services import notify
from orders.services import refund_create

pytestmark = pytest.mark.django_db

SEVEN_KEYBOARDS = {"prod-001": 7}  # 7 × $149.99 = $1,049.93


def test_the_catalog_shows_prices_with_their_currency(client, catalog):
    Product.objects.filter(public_id="prod-001").update(price=Decimal("1249.50"))
    assert "$1,249.50" in client.get(reverse("catalog:product_list")).content.decode()
    assert "$1,249.50" in client.get(reverse("catalog:product_detail", args=["prod-001"])).content.decode()


def test_the_cart_and_the_checkout_show_formatted_amounts(client, customer, catalog):
    client.force_login(customer)
    client.post(reverse("orders:cart_add"), {"product_id": "prod-001", "quantity": 7})
    cart = client.get(reverse("orders:cart")).content.decode()
    assert '<dd id="cart-total">$1,049.93</dd>' in cart
    assert "$149.99 each" in cart
    checkout = client.get(reverse("orders:checkout")).content.decode()
    assert "Place order · <span id=\"place-order-total\">$1,049.93</span>" in checkout
    assert "<dd>$1,049.93</dd>" in checkout
    assert "1049.93" not in cart + checkout


def test_the_customers_order_pages_show_formatted_amounts(client, customer, place_order):
    order = place_order(customer, SEVEN_KEYBOARDS)
    client.force_login(customer)
    listing = client.get(reverse("orders:order_list")).content.decode()
    assert 'data-label="Total">$1,049.93</td>' in listing
    page = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    assert '<td class="num">$149.99</td>' in page and '<td class="num">$1,049.93</td>' in page
    cancel = client.get(reverse("orders:order_cancel", args=[order.pk])).content.decode()
    assert "The order of $1,049.93 will be cancelled" in cancel
    assert "1049.93" not in listing + page + cancel


def test_the_e_mail_and_the_notification_read_the_amount_with_its_currency(client, customer, place_order,
                                                                            mailoutbox):
    order = place_order(customer, SEVEN_KEYBOARDS)
    notify(order_id=order.pk, event_type="order.paid")
    (mail,) = [mail for mail in mailoutbox if mail.subject == f"Payment received for {order.number}"]
    assert mail.body.startswith(f"Your payment of $1,049.93 for order {order.number} was approved. "
                                "Items $1,049.93 + shipping free (Standard, arriving ")
    client.force_login(customer)
    assert "Your payment of $1,049.93 for order" in client.get(reverse("notifications:notification_list")).content.decode()


def test_a_partial_refund_is_told_and_shown_with_its_currency(client, customer, order_in_state, mailoutbox):
    order = order_in_state("delivered", items=SEVEN_KEYBOARDS)
    refund_create(order=order, amount=Decimal("1000.00"), reason="Goodwill", actor=None)
    told = Notification.objects.get(order=order, event_type__startswith="order.partially_refunded")
    assert told.body == f"We refunded $1,000.00 for order {order.number}."
    client.force_login(customer)
    page = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    assert "<strong>$1,000.00</strong> refunded on" in page
    assert "Refunded in total: <strong>$1,000.00</strong> of $1,049.93" in page


def test_the_api_keeps_the_machine_form(customer_api, customer, place_order):
    order = place_order(customer, SEVEN_KEYBOARDS)
    body = customer_api.get(f"/api/orders/{order.pk}").json()
    assert str(body["total"]) == "1049.93"
