"""A cart whose products were repriced, withdrawn or sold out since they were added says so, once,
and its header badge always counts what the cart page lists."""
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import Product
from storefront.cart import Cart

HTMX = {"HX-Request": "true"}
CHANGED_MARK = "(changed: see your cart)"


@pytest.fixture
def add(client, catalog):
    def add(public_id: str, quantity: int = 1):
        return client.post(reverse("orders:cart_add"), {"product_id": public_id, "quantity": quantity}, headers=HTMX)

    return add


def badge(html: str) -> int:
    return int(re.search(r'<span id="cart-count" class="badge"[^>]*>(\d+)</span>', html).group(1))


def items_listed(html: str) -> int:
    return int(re.search(r"<dt>Items</dt><dd>(\d+)</dd>", html).group(1))


def header_of(client) -> str:
    return client.get(reverse("catalog:product_list")).content.decode()


def cart_page(client) -> str:
    return client.get(reverse("orders:cart")).content.decode()


def test_a_repriced_line_says_from_what_to_what_once_and_totals_at_todays_price(client, add):
    add("prod-002", 2)  # Wireless Mouse at $49.99
    Product.objects.filter(public_id="prod-002").update(price=Decimal("99.00"))

    assert CHANGED_MARK in header_of(client)
    html = cart_page(client)

    assert "Price changed from $49.99 to $99.00" in html
    assert '<dd id="cart-total">$198.00</dd>' in html
    assert CHANGED_MARK not in html  # the cart page is where the change is shown
    again = cart_page(client)
    assert "Price changed" not in again
    assert '<dd id="cart-total">$198.00</dd>' in again
    assert CHANGED_MARK not in header_of(client)


def test_adding_more_of_a_repriced_product_still_tells_the_change(client, add):
    add("prod-002")
    Product.objects.filter(public_id="prod-002").update(price=Decimal("59.00"))
    add("prod-002")

    assert "Price changed from $49.99 to $59.00" in cart_page(client)


def test_a_withdrawn_line_is_removed_with_a_notice_once_and_not_counted(client, add):
    add("prod-002")
    add("prod-005")
    Product.objects.filter(public_id="prod-005").update(is_active=False)

    header = header_of(client)
    assert badge(header) == 1  # not 2: the desk mat can no longer be bought
    assert CHANGED_MARK in header
    html = cart_page(client)

    assert "Desk Mat: no longer sold — removed from your cart" in html
    assert (badge(html), items_listed(html)) == (1, 1)
    assert 'aria-label="Remove Desk Mat from cart"' not in html
    assert "no longer sold" not in cart_page(client)
    assert Cart(client.session).quantities() == {"prod-002": 1}


def test_a_sold_out_line_is_removed_with_a_notice_and_not_counted(client, add):
    add("prod-002")
    add("prod-005")
    Product.objects.filter(public_id="prod-005").update(stock=0)

    assert badge(header_of(client)) == 1
    html = cart_page(client)

    assert "Desk Mat is out of stock — removed from your cart" in html
    assert (badge(html), items_listed(html)) == (1, 1)


def test_the_last_line_withdrawn_leaves_an_empty_cart_that_says_why(client, add):
    add("prod-005")
    Product.objects.filter(public_id="prod-005").update(is_active=False)

    html = cart_page(client)

    assert "Desk Mat: no longer sold — removed from your cart" in html
    assert "Your cart is empty" in html
    assert badge(html) == 0


@pytest.mark.parametrize(
    "change",
    [
        {"is_active": False},
        {"stock": 0},
        {"stock": 2},
        {"price": Decimal("1.00")},
    ],
    ids=["withdrawn", "sold out", "stock below the quantity", "repriced"],
)
def test_the_header_counts_what_the_cart_page_lists(client, add, change):
    add("prod-002", 3)
    add("prod-004", 4)
    Product.objects.filter(public_id="prod-004").update(**change)

    counted = badge(header_of(client))
    html = cart_page(client)

    assert counted == badge(html) == items_listed(html)
    assert badge(header_of(client)) == counted


def test_htmx_changes_on_the_cart_page_show_a_change_made_meanwhile(client, add):
    add("prod-002")
    add("prod-005")
    cart_page(client)  # the page is open
    Product.objects.filter(public_id="prod-002").update(price=Decimal("45.00"))
    Product.objects.filter(public_id="prod-005").update(is_active=False)

    response = client.post(reverse("orders:cart_update"), {"product_id": "prod-002", "quantity": 2}, headers=HTMX)

    html = response.content.decode()
    assert 'id="cart"' in html
    assert "Price changed from $49.99 to $45.00" in html
    assert "Desk Mat: no longer sold — removed from your cart" in html
    assert '<span id="cart-count" class="badge" hx-swap-oob="true">2</span>' in html
    assert '<span id="cart-changed" hx-swap-oob="true"></span>' in html  # shown now: the mark is cleared
    assert '<dd id="cart-total">$90.00</dd>' in html


def test_htmx_add_elsewhere_counts_without_a_withdrawn_line_and_marks_the_cart(client, add):
    add("prod-005", 2)
    Product.objects.filter(public_id="prod-005").update(is_active=False)

    html = add("prod-002").content.decode()

    assert '<span id="cart-count" class="badge" hx-swap-oob="true">1</span>' in html
    assert CHANGED_MARK in html


def test_a_cart_from_before_prices_were_remembered_is_not_repriced(client, catalog):
    session = client.session
    session["cart"] = {"prod-002": 2}
    session.save()

    html = cart_page(client)

    assert "Wireless Mouse" in html and "Price changed" not in html
    assert (badge(html), items_listed(html)) == (2, 2)
    assert CHANGED_MARK not in html


def test_checkout_sends_a_changed_cart_back_to_the_cart_page_first(client, customer, add):
    client.force_login(customer)
    add("prod-002")
    Product.objects.filter(public_id="prod-002").update(price=Decimal("99.00"))

    response = client.get(reverse("orders:checkout"), follow=True)

    html = response.content.decode()
    assert response.redirect_chain == [(reverse("orders:cart"), 302)]
    assert "Your cart changed since you filled it." in html
    assert "Price changed from $49.99 to $99.00" in html
    checkout = client.get(reverse("orders:checkout"))
    assert checkout.status_code == 200
    assert "Place order · <span id=\"place-order-total\">$99.00</span>" in checkout.content.decode()
