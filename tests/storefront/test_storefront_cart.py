"""The session cart through its pages: add (HTMX and plain), +/−, remove, stock limits, sign-in."""
import re

import pytest
from django.urls import reverse

from catalog.models import Product
from storefront.cart import Cart

HTMX = {"HX-Request": "true"}


def cart_of(client) -> dict[str, int]:
    return Cart(client.session).quantities()


@pytest.fixture
def add(client, catalog):
    def add(public_id: str, quantity: int | None = None, *, htmx: bool = True):
        data = {"product_id": public_id}
        if quantity is not None:
            data["quantity"] = quantity
        return client.post(reverse("orders:cart_add"), data, headers=HTMX if htmx else {})

    return add


def test_empty_cart_page_says_so_and_links_to_the_catalog(client, db):
    response = client.get(reverse("orders:cart"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Your cart</h1>" in html
    assert "Your cart is empty" in html
    assert f'href="{reverse("catalog:product_list")}"' in html


def test_htmx_add_updates_the_badge_and_toasts_out_of_band(client, add):
    response = add("prod-002")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="cart-count"' in html and 'hx-swap-oob="true"' in html
    assert '<span id="cart-count" class="badge" hx-swap-oob="true">1</span>' in html
    assert 'hx-swap-oob="beforeend:#toasts"' in html
    assert "Wireless Mouse added to cart" in html
    assert cart_of(client) == {"prod-002": 1}

    add("prod-002")
    assert cart_of(client) == {"prod-002": 2}


def test_plain_add_redirects_back_with_a_message(client, add):
    response = client.post(
        reverse("orders:cart_add"), {"product_id": "prod-004", "next": "/products/prod-004/"}, follow=True
    )
    assert response.redirect_chain == [("/products/prod-004/", 302)]
    assert "Laptop Stand added to cart" in response.content.decode()
    assert cart_of(client) == {"prod-004": 1}


def test_plain_add_ignores_an_offsite_next(client, add):
    response = client.post(reverse("orders:cart_add"), {"product_id": "prod-004", "next": "https://evil.example/"})
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:cart")


def test_adding_an_unknown_product_is_a_404(client, add):
    assert add("prod-999").status_code == 404
    assert cart_of(client) == {}


def test_cart_page_lists_lines_with_totals_and_named_buttons(client, add):
    add("prod-002", 2)
    add("prod-005")
    html = client.get(reverse("orders:cart")).content.decode()
    assert "Wireless Mouse" in html and "Desk Mat" in html
    assert "$99.98" in html  # 2 × 49.99
    assert "$134.97" in html  # 99.98 + 34.99
    assert 'aria-label="Increase quantity of Wireless Mouse"' in html
    assert 'aria-label="Decrease quantity of Wireless Mouse"' in html
    assert 'aria-label="Remove Wireless Mouse from cart"' in html
    assert f'href="{reverse("orders:checkout")}"' in html


def test_update_sets_the_quantity_and_returns_the_cart_with_the_badge(client, add):
    add("prod-002")
    response = client.post(reverse("orders:cart_update"), {"product_id": "prod-002", "quantity": 3}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="cart"' in html
    assert '<span id="cart-count" class="badge" hx-swap-oob="true">3</span>' in html
    assert "$149.97" in html
    assert cart_of(client) == {"prod-002": 3}


def test_update_to_zero_removes_the_line(client, add):
    add("prod-002")
    client.post(reverse("orders:cart_update"), {"product_id": "prod-002", "quantity": 0}, headers=HTMX)
    assert cart_of(client) == {}


def test_remove_takes_the_line_out_and_shows_the_empty_state(client, add):
    add("prod-002")
    response = client.post(reverse("orders:cart_remove"), {"product_id": "prod-002"}, headers=HTMX)
    html = response.content.decode()
    assert "Your cart is empty" in html
    assert "Wireless Mouse removed from your cart" in html
    assert '<span id="cart-count" class="badge" hx-swap-oob="true">0</span>' in html
    assert cart_of(client) == {}


def test_plain_update_and_remove_redirect_to_the_cart(client, add):
    add("prod-002")
    response = client.post(reverse("orders:cart_update"), {"product_id": "prod-002", "quantity": 2})
    assert response.status_code == 302 and response["Location"] == reverse("orders:cart")
    response = client.post(reverse("orders:cart_remove"), {"product_id": "prod-002"})
    assert response.status_code == 302 and cart_of(client) == {}


def test_quantities_are_limited_by_stock_with_a_clear_message(client, add):
    Product.objects.filter(public_id="prod-004").update(stock=5)
    response = client.post(reverse("orders:cart_update"), {"product_id": "prod-004", "quantity": 8}, headers=HTMX)
    html = response.content.decode()
    assert cart_of(client) == {"prod-004": 5}
    assert "Only 5 Laptop Stand in stock" in html
    # At the limit the + button is disabled and the reason shown.
    assert 'aria-label="Increase quantity of Laptop Stand" disabled' in html

    response = add("prod-004")
    assert cart_of(client) == {"prod-004": 5}
    assert "Only 5 Laptop Stand in stock; your cart has 5." in response.content.decode()


def test_an_out_of_stock_product_cannot_be_added(client, add):
    Product.objects.filter(public_id="prod-004").update(stock=0)
    response = add("prod-004")
    assert "Laptop Stand is out of stock" in response.content.decode()
    assert cart_of(client) == {}


def test_a_line_over_the_stock_left_is_lowered_once_with_the_reason(client, add):
    add("prod-004", 4)
    Product.objects.filter(public_id="prod-004").update(stock=2)

    html = client.get(reverse("orders:cart")).content.decode()

    assert "Only 2 Laptop Stand in stock: lowered from 4 to 2" in html
    assert '<span id="cart-count" class="badge">2</span>' in html
    assert re.search(r"<dt>Items</dt><dd>2</dd>", html)
    assert cart_of(client) == {"prod-004": 2}
    assert "lowered from" not in client.get(reverse("orders:cart")).content.decode()


def test_the_line_limit_caps_quantities_of_plentiful_products(client, add, settings):
    client.post(reverse("orders:cart_update"), {"product_id": "prod-008", "quantity": 500}, headers=HTMX)
    assert cart_of(client) == {"prod-008": settings.STORE_MAX_LINE_QUANTITY}


def test_bad_input_is_a_400(client, db):
    assert client.post(reverse("orders:cart_add"), {}).status_code == 400
    assert client.post(reverse("orders:cart_update"), {"product_id": "prod-002"}).status_code == 400
    assert client.post(reverse("orders:cart_update"), {"product_id": "prod-002", "quantity": "x"}).status_code == 400
    assert client.get(reverse("orders:cart_add")).status_code == 405


def test_the_cart_is_kept_when_signing_in(client, add, customer):
    add("prod-002", 2)
    response = client.post(
        reverse("accounts:login"), {"username": "customer@example.com", "password": "Sturdy-Passw0rd!"}
    )
    assert response.status_code == 302
    assert cart_of(client) == {"prod-002": 2}
    assert '<span id="cart-count" class="badge">2</span>' in client.get(reverse("orders:cart")).content.decode()


def test_header_badge_shows_the_cart_count(client, add):
    add("prod-002", 3)
    html = client.get(reverse("catalog:product_list")).content.decode()
    assert '<span id="cart-count" class="badge">3</span>' in html


def test_add_to_cart_form_is_on_the_grid_and_the_product_page(client, catalog):
    for url in (reverse("catalog:product_list"), reverse("catalog:product_detail", args=["prod-002"])):
        html = client.get(url).content.decode()
        assert f'hx-post="{reverse("orders:cart_add")}"' in html
        assert 'aria-label="Add to Cart: Wireless Mouse"' in html
        assert "csrfmiddlewaretoken" in html


def test_the_badge_alone_answers_a_page_shown_again_and_is_never_cached(client, add):
    add("prod-002", 2)

    response = client.get(reverse("orders:cart_badge"), headers=HTMX)

    assert response.status_code == 200
    assert re.search(r'<span id="cart-count" class="badge" hx-swap-oob="true">2</span>', response.content.decode())
    assert "no-cache" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert client.post(reverse("orders:cart_badge")).status_code == 405
