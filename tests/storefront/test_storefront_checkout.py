"""Checkout: sign-in required, inline validation, placing an order, double submit, stock errors."""
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import Product
from orders.models import Order
from storefront.cart import Cart
from tests.storefront.checkout_forms import ADDRESS, checkout_fields


@pytest.fixture
def shopper(client, customer, catalog):
    client.force_login(customer)
    client.post(reverse("orders:cart_add"), {"product_id": "prod-002", "quantity": 2})
    client.post(reverse("orders:cart_add"), {"product_id": "prod-005"})
    return client


def checkout_key(client) -> str:
    html = client.get(reverse("orders:checkout")).content.decode()
    return re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)


def test_checkout_signed_out_goes_to_the_login_page_and_back(client, catalog):
    response = client.get(reverse("orders:checkout"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={reverse('orders:checkout')}"


def test_checkout_page_has_labelled_fields_test_cards_and_a_summary(shopper):
    response = shopper.get(reverse("orders:checkout"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Checkout</h1>" in html
    for label, name in [("Street address", "address"), ("City", "city"), ("State", "state"),
                        ("ZIP code", "zip"), ("Card number", "card_number")]:
        assert re.search(rf'<label for="id_{name}"[^>]*>{label}', html), label
    for card in ("4242 4242 4242 4242", "4000 0000 0000 0002", "4000 0000 0000 0119", "00000"):
        assert card in html
    assert 'type="hidden" name="idempotency_key"' in html
    assert "Wireless Mouse" in html and "Desk Mat" in html
    assert "$134.97" in html


def test_pages_of_one_cart_share_a_key_and_a_changed_cart_gets_a_new_one(shopper):
    first, second = checkout_key(shopper), checkout_key(shopper)
    shopper.post(reverse("orders:cart_add"), {"product_id": "prod-001"})

    assert first == second
    assert checkout_key(shopper) != first


def test_two_checkout_pages_of_one_cart_place_one_order(shopper, customer):
    """Two tabs: the second is submitted (with other details) after the first placed the order."""
    first_tab = checkout_fields(shopper)
    second_tab = checkout_fields(shopper, {**ADDRESS, "city": "Shelbyville"})
    assert first_tab["idempotency_key"] == second_tab["idempotency_key"]
    session = shopper.session
    cart = dict(session["cart"]), session["cart_revision"]

    first = shopper.post(reverse("orders:checkout"), first_tab)
    session = shopper.session
    session["cart"], session["cart_revision"] = cart  # the second request still had the full cart
    session.save()
    second = shopper.post(reverse("orders:checkout"), second_tab, follow=True)

    order = Order.objects.get(owner=customer)
    assert first["Location"] == second.redirect_chain[0][0] == reverse("orders:order_detail", args=[order.pk])
    assert f"This cart was already ordered from another window: order {order.number}." in second.content.decode()
    assert order.ship_city == "Springfield"


def test_a_page_rendered_before_the_cart_changed_places_nothing(shopper, customer):
    key = checkout_key(shopper)
    shopper.post(reverse("orders:cart_add"), {"product_id": "prod-001"})  # in another tab

    response = shopper.post(reverse("orders:checkout"), {**ADDRESS, "idempotency_key": key})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Your cart changed after this checkout page was opened." in html
    assert 'value="1 Market Street"' in html  # what the customer typed is kept
    assert key not in html
    assert not Order.objects.filter(owner=customer).exists()


def test_checkout_with_an_empty_cart_goes_back_to_the_cart(client, customer, catalog):
    client.force_login(customer)
    response = client.get(reverse("orders:checkout"))
    assert response.status_code == 302 and response["Location"] == reverse("orders:cart")


def test_placing_an_order_clears_the_cart_and_shows_the_order(shopper, customer):
    key = checkout_key(shopper)
    response = shopper.post(reverse("orders:checkout"), checkout_fields(shopper, card_number="4242 4242 4242 4242"))
    order = Order.objects.get(owner=customer)
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:order_detail", args=[order.pk])
    assert order.total == Decimal("134.97")
    assert order.card_last4 == "4242"
    assert order.idempotency_key == key
    assert sorted(order.lines.values_list("product_public_id", "quantity")) == [("prod-002", 2), ("prod-005", 1)]
    assert shopper.session.get("cart") == {}
    page = shopper.get(response["Location"]).content.decode()
    assert f"Thank you! Order {order.number} has been placed." in page


def test_a_card_is_optional(shopper, customer):
    shopper.post(reverse("orders:checkout"), checkout_fields(shopper, card_number=""))
    assert Order.objects.get(owner=customer).card_last4 == ""


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("zip", "ABCDE", "Enter a ZIP code like 12345 or 12345-6789."),
        ("card_number", "4242 4242 4242 4241", "Enter a valid card number"),
        ("address", "", "This field is required."),
    ],
)
def test_field_errors_are_shown_inline_and_nothing_is_placed(shopper, field, value, error):
    data = {**ADDRESS, "card_number": "4242424242424242", "idempotency_key": checkout_key(shopper), field: value}
    response = shopper.post(reverse("orders:checkout"), data)
    html = response.content.decode()
    assert response.status_code == 200
    assert error in html
    # Django links the error to its input for screen readers.
    assert re.search(rf'id="id_{field}_error"', html)
    assert Order.objects.count() == 0
    assert Cart(shopper.session).quantities() == {"prod-002": 2, "prod-005": 1}


def test_double_submission_places_one_order(shopper, customer):
    data = checkout_fields(shopper, card_number="4242424242424242")
    first = shopper.post(reverse("orders:checkout"), data)
    second = shopper.post(reverse("orders:checkout"), data)
    order = Order.objects.get(owner=customer)
    assert first["Location"] == second["Location"] == reverse("orders:order_detail", args=[order.pk])


def test_concurrent_double_submission_with_the_cart_still_full_replays_the_order(shopper, customer):
    """Both requests carry the full cart (the second arrived before the first cleared it)."""
    data = checkout_fields(shopper, card_number="4242424242424242")
    session = shopper.session
    cart = dict(session["cart"]), session["cart_revision"]
    first = shopper.post(reverse("orders:checkout"), data)
    session = shopper.session
    session["cart"], session["cart_revision"] = cart  # as the second request's session still had it
    session.save()
    second = shopper.post(reverse("orders:checkout"), data, follow=True)
    order = Order.objects.get(owner=customer)
    assert first["Location"] == second.redirect_chain[0][0]
    assert f"Order {order.number} was already placed." in second.content.decode()


def test_a_reused_form_with_a_changed_cart_asks_to_review(shopper, customer):
    data = checkout_fields(shopper)
    key = data["idempotency_key"]
    shopper.post(reverse("orders:checkout"), data)
    shopper.post(reverse("orders:cart_add"), {"product_id": "prod-001"})
    response = shopper.post(reverse("orders:checkout"), data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Your cart changed after this checkout page was opened." in html
    assert key not in html  # a fresh key for the next attempt
    assert Order.objects.filter(owner=customer).count() == 1


def test_not_enough_stock_goes_back_to_the_cart_with_the_reason(shopper, customer):
    data = checkout_fields(shopper)
    Product.objects.filter(public_id="prod-002").update(stock=1)
    response = shopper.post(reverse("orders:checkout"), data, follow=True)
    html = response.content.decode()
    assert response.redirect_chain == [(reverse("orders:cart"), 302)]
    assert "Not enough stock for Wireless Mouse" in html
    assert "Only 1 Wireless Mouse in stock" in html
    assert Order.objects.count() == 0
    assert Product.objects.get(public_id="prod-005").stock == 200  # nothing reserved


def test_two_tabs_submitted_at_once_place_one_order(transactional_db, catalog, customer):
    import threading

    from django.db import connection
    from django.test import Client

    browser = Client()
    browser.force_login(customer)
    browser.post(reverse("orders:cart_add"), {"product_id": "prod-002", "quantity": 2})
    pages = {city: checkout_fields(browser, {**ADDRESS, "city": city}) for city in ("Springfield", "Shelbyville")}
    answers: list[str] = []

    def submit(city: str) -> None:
        tab = Client()
        tab.cookies["sessionid"] = browser.cookies["sessionid"].value
        try:
            answers.append(tab.post(reverse("orders:checkout"), pages[city])["Location"])
        finally:
            connection.close()

    tabs = [threading.Thread(target=submit, args=(city,)) for city in ("Springfield", "Shelbyville")]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join(timeout=60)

    order = Order.objects.get(owner=customer)
    assert answers == [reverse("orders:order_detail", args=[order.pk])] * 2
    assert Product.objects.get(public_id="prod-002").stock == catalog["prod-002"].stock - 2  # reserved once


def checkout_page(client) -> dict:
    return checkout_fields(client)


def test_a_price_change_between_the_page_and_the_click_places_nothing_and_says_so(shopper, customer, catalog):
    page = checkout_page(shopper)  # 2 × Wireless Mouse, 1 × prod-005
    Product.objects.filter(public_id="prod-002").update(price=Decimal("99.00"))

    response = shopper.post(reverse("orders:checkout"), page)

    html = response.content.decode()
    assert response.status_code == 200
    assert f"Wireless Mouse now costs $99.00 (was ${catalog['prod-002'].price})." in html
    assert "Nothing was charged" in html
    assert not Order.objects.filter(owner=customer).exists()
    # The page now shows today's price; placing it again works.
    again = shopper.post(reverse("orders:checkout"), checkout_page(shopper))
    order = Order.objects.get(owner=customer)
    assert again["Location"] == reverse("orders:order_detail", args=[order.pk])
    assert order.lines.get(product_public_id="prod-002").unit_price == Decimal("99.00")


def test_a_product_withdrawn_before_the_click_places_nothing_and_leaves_the_cart(shopper, customer):
    page = checkout_page(shopper)
    Product.objects.filter(public_id="prod-005").update(is_active=False)

    response = shopper.post(reverse("orders:checkout"), page)

    html = response.content.decode()
    name = Product.objects.get(public_id="prod-005").name
    assert f"No longer sold: {name}. It was removed from your cart" in html
    assert "prod-005" not in html
    assert not Order.objects.filter(owner=customer).exists()
    assert "prod-005" not in shopper.session["cart"]


def test_a_line_the_page_did_not_show_is_never_placed(shopper, customer):
    """Tab A shows the cart; tab B adds a product that then sells out; tab A's page, sent again,
    goes to the cart page that names the change; the product back in stock is not placed by
    the page that never showed it."""
    tab_a = checkout_page(shopper)
    shopper.post(reverse("orders:cart_add"), {"product_id": "prod-004"})  # tab B
    Product.objects.filter(public_id="prod-004").update(stock=0)

    stale = shopper.post(reverse("orders:checkout"), tab_a)

    assert stale["Location"] == reverse("orders:cart")
    assert "Laptop Stand is out of stock — removed from your cart" in shopper.get(reverse("orders:cart")).content.decode()
    Product.objects.filter(public_id="prod-004").update(stock=10, price=Decimal("189.99"))
    shopper.post(reverse("orders:checkout"), tab_a)
    assert not Order.objects.filter(owner=customer).exists()
    placed = shopper.post(reverse("orders:checkout"), checkout_page(shopper))
    order = Order.objects.get(owner=customer)
    assert placed["Location"] == reverse("orders:order_detail", args=[order.pk])
    assert sorted(order.lines.values_list("product_public_id", flat=True)) == ["prod-002", "prod-005"]


def test_the_order_service_refuses_a_line_missing_from_the_prices_the_customer_confirmed(customer, catalog):
    from orders.services import LineRequest, PriceChanged, ShippingAddress, order_place

    with pytest.raises(PriceChanged) as refused:
        order_place(user=customer, lines=[LineRequest("prod-002", 1), LineRequest("prod-004", 1)],
                    shipping=ShippingAddress(**ADDRESS), card_number=None,
                    expected_prices={"prod-002": catalog["prod-002"].price})

    assert "Laptop Stand ($" in refused.value.message and "was not in the order you confirmed" in refused.value.message
    assert not Order.objects.exists()


@pytest.mark.parametrize("seen", ['{"prod-002": "sNaN"}', '{"prod-002": "NaN"}', '{"prod-002": "1e999999"}',
                                  '{"prod-002": "-1"}', '["prod-002"]', '{"prod-002": null}'])
def test_a_tampered_page_of_prices_is_out_of_date_not_an_error(shopper, customer, seen):
    page = {**checkout_page(shopper), "seen_prices": seen}

    response = shopper.post(reverse("orders:checkout"), page)

    assert response.status_code == 200
    assert "This checkout page is out of date; please review your order." in response.content.decode()
    assert not Order.objects.filter(owner=customer).exists()
