"""The customer reads what their total is made of: items, shipping (service, price, delivery
window) and the sum, on the order page and in the e-mails and notifications; free shipping
says "Free"; a refund says what it gave back of the items and of the shipping."""
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from notifications.models import Notification
from notifications.services import notification_text, notify
from orders.models import Order
from orders.services import RefundLineRequest, refund_create

pytestmark = pytest.mark.django_db

SHIPPING = Decimal("12.40")


def unpriced(order: Order) -> Order:
    """The order as one placed before shipping had a price: free, no delivery window."""
    Order.objects.filter(pk=order.pk).update(delivery_earliest=None, delivery_latest=None)
    return Order.objects.get(pk=order.pk)


def priced(order: Order) -> Order:
    """The order as checkout would have priced it: express, $12.40, arriving Jan 2–Jan 3, 2030."""
    Order.objects.filter(pk=order.pk).update(
        shipping_service="express", shipping_cost=SHIPPING, total=order.subtotal + SHIPPING,
        delivery_earliest=date(2030, 1, 2), delivery_latest=date(2030, 1, 3))
    return Order.objects.get(pk=order.pk)


def test_the_order_page_shows_items_shipping_and_total(client, customer, place_order):
    order = priced(place_order(customer, {"prod-001": 2}))  # 2 × $149.99
    client.force_login(customer)

    page = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()

    assert '<th scope="row" colspan="3">Items</th><td class="num">$299.98</td>' in page
    assert ('<th scope="row" colspan="3">Shipping · Express<br><span class="items-table__window">'
            'Arriving Jan 2–Jan 3</span></th><td class="num">$12.40</td>') in page
    assert '<th scope="row" colspan="3">Total</th><td class="num">$312.38</td>' in page


def test_an_order_that_shipped_free_says_so(client, customer, place_order):
    order = unpriced(place_order(customer, {"prod-001": 2}))
    assert order.shipping_cost == Decimal("0.00")
    client.force_login(customer)

    page = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()

    assert '<th scope="row" colspan="3">Shipping · Standard</th><td class="num">Free</td>' in page
    assert '<th scope="row" colspan="3">Total</th><td class="num">$299.98</td>' in page


def test_the_order_list_shows_the_total(client, customer, place_order):
    order = priced(place_order(customer, {"prod-001": 2}))
    client.force_login(customer)

    listing = client.get(reverse("orders:order_list")).content.decode()

    assert 'data-label="Total">$312.38</td>' in listing
    assert order.number in listing


def test_the_e_mails_and_notifications_give_the_split(client, customer, place_order, mailoutbox):
    order = priced(place_order(customer, {"prod-001": 2}))

    notify(order_id=order.pk, event_type="order.paid")

    split = "Items $299.98 + shipping $12.40 (Express, arriving Jan 2–Jan 3) = $312.38."
    # The confirmation of the order as placed (it was recorded before this test priced the order).
    assert notification_text(order=order, event_type="order.created") == (
        f"Order {order.number} received", f"Thanks! We received your order {order.number} for $312.38. {split}")
    bodies = {mail.subject: mail.body for mail in mailoutbox}
    assert bodies[f"Payment received for {order.number}"] == (
        f"Your payment of $312.38 for order {order.number} was approved. {split}")
    client.force_login(customer)
    assert split in client.get(reverse("notifications:notification_list")).content.decode()


def test_free_shipping_reads_free_in_the_e_mail(customer, place_order, mailoutbox):
    order = unpriced(place_order(customer, {"prod-001": 2}))

    notify(order_id=order.pk, event_type="order.paid")

    (mail,) = [mail for mail in mailoutbox if mail.subject == f"Payment received for {order.number}"]
    assert mail.body.endswith("Items $299.98 + shipping free (Standard) = $299.98.")


def test_a_full_refund_says_it_gave_back_the_items_and_the_shipping(client, customer, order_in_state):
    order = priced(order_in_state("paid", items={"prod-001": 2}))

    refund_create(order=order, amount=None, reason="Out of stock after all", actor=None)

    told = Notification.objects.get(order=order, event_type="order.refunded")
    assert told.body.startswith(f"We refunded $312.38 for order {order.number} ($299.98 for the items and "
                                "$12.40 for shipping).")
    client.force_login(customer)
    page = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    assert '<span class="refunds__shipping">$12.40 of it for shipping</span>' in page


def test_a_partial_refund_names_the_items_and_the_shipping_it_gave_back(order_in_state):
    order = priced(order_in_state("delivered", items={"prod-001": 2}))
    line = order.lines.get()

    refund_create(order=order, amount=None, reason="Late", actor=None, lines=[RefundLineRequest(line.pk, 1)],
                  shipping=True)
    refund_create(order=order, amount=Decimal("10.00"), reason="Goodwill", actor=None)

    told = Notification.objects.filter(order=order, event_type__startswith="order.partially_refunded")
    assert [notice.body for notice in told.order_by("id")] == [
        f"We refunded $162.39 for order {order.number}: 1 × Mechanical Keyboard and shipping ($12.40).",
        f"We refunded $10.00 for order {order.number}.",
    ]


def test_an_amount_reaching_into_the_shipping_says_the_part_that_was_shipping(order_in_state):
    order = priced(order_in_state("delivered", items={"prod-001": 2}))  # $299.98 of items, $12.40 of shipping

    refund_create(order=order, amount=Decimal("305.00"), reason="Damaged", actor=None)
    refund_create(order=order, amount=Decimal("7.38"), reason="Late", actor=None, shipping=True)

    told = Notification.objects.filter(order=order, event_type__startswith="order.partially_refunded")
    assert [notice.body for notice in told.order_by("id")] == [f"We refunded $305.00 for order {order.number}, of it $5.02 for shipping."]
