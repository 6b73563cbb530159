"""Checkout knows the customer: which address it starts with (an address picked from the book >
the session's prefill > the default address > the last order's), saving the address to the book,
the error summary, and signing up from checkout coming back to it."""
import re

import pytest
from django.urls import reverse

from accounts import services as account_services
from accounts.models import Address
from orders.models import Order
from storefront.selectors.checkout import CHECKOUT_PREFILL
from tests.conftest import PASSWORD
from tests.storefront.checkout_forms import checkout_fields

HOME = {"label": "Home", "address": "1 Market Street", "city": "Springfield", "state": "IL", "zip": "62701"}
WORK = {"label": "Work", "address": "9 Office Park", "city": "Chicago", "state": "IL", "zip": "60601"}
PREFILL = {"address": "5 Retry Road", "city": "Peoria", "state": "IL", "zip": "61602"}


@pytest.fixture
def shopper(client, customer, catalog):
    client.force_login(customer)
    client.post(reverse("orders:cart_add"), {"product_id": "prod-002"})
    return client


def shown_address(client, query: str = "") -> dict[str, str]:
    """The value of each shipping field of the checkout page ("" when empty)."""
    html = client.get(reverse("orders:checkout") + query).content.decode()
    values = {}
    for name in ("address", "city", "state", "zip"):
        tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)
        value = re.search(r'value="([^"]*)"', tag)
        values[name] = value.group(1) if value else ""
    return values


def shipping(fields: dict) -> dict:
    return {name: fields[name] for name in ("address", "city", "state", "zip")}


def set_prefill(client, value) -> None:
    session = client.session
    session[CHECKOUT_PREFILL] = value
    session.save()


def checkout_key(client) -> str:
    html = client.get(reverse("orders:checkout")).content.decode()
    return re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)


# --- which address the page starts with ------------------------------------------------------

def test_a_new_customer_starts_with_empty_fields(shopper):
    assert shown_address(shopper) == {"address": "", "city": "", "state": "", "zip": ""}


def test_without_a_book_the_last_orders_address_is_filled_in(shopper, customer, place_order):
    place_order(customer, zip="99501")
    place_order(customer, zip="10001")  # the last one

    assert shown_address(shopper) == {"address": "1 Market Street", "city": "Springfield", "state": "IL",
                                      "zip": "10001"}


def test_the_default_address_beats_the_last_order(shopper, customer, place_order):
    place_order(customer, zip="99501")
    account_services.address_create(user=customer, **WORK)

    assert shown_address(shopper) == shipping(WORK)


def test_the_sessions_prefill_beats_the_default(shopper, customer):
    account_services.address_create(user=customer, **WORK)
    set_prefill(shopper, PREFILL)

    assert shown_address(shopper) == PREFILL


def test_a_prefill_that_is_not_an_address_is_ignored(shopper, customer):
    account_services.address_create(user=customer, **WORK)
    set_prefill(shopper, "5 Retry Road")

    assert shown_address(shopper) == shipping(WORK)


def test_picking_a_saved_address_fills_it_in_without_javascript(shopper, customer):
    account_services.address_create(user=customer, **HOME)
    work = account_services.address_create(user=customer, **WORK)
    set_prefill(shopper, PREFILL)

    html = shopper.get(reverse("orders:checkout")).content.decode()
    assert '<form method="get" action="/checkout/"' in html
    assert re.search(rf'<option value="{work.pk}"[^>]*>Work: 9 Office Park, Chicago, IL 60601</option>', html)
    assert "Use this address" in html

    assert shown_address(shopper, f"?address={work.pk}") == shipping(WORK)


def test_another_customers_address_cannot_be_picked(shopper, customer, other_customer):
    account_services.address_create(user=customer, **HOME)
    theirs = account_services.address_create(user=other_customer, **WORK)

    html = shopper.get(reverse("orders:checkout") + f"?address={theirs.pk}").content.decode()

    assert shown_address(shopper, f"?address={theirs.pk}") == shipping(HOME)
    assert "Office Park" not in html
    assert shown_address(shopper, "?address=not-a-number") == shipping(HOME)


def test_the_default_is_selected_in_the_picker(shopper, customer):
    home = account_services.address_create(user=customer, **HOME)
    account_services.address_create(user=customer, **WORK)

    html = shopper.get(reverse("orders:checkout")).content.decode()

    assert re.search(rf'<option value="{home.pk}" selected', html)


# --- placing the order --------------------------------------------------------------------

def test_placing_the_order_forgets_the_prefill(shopper, customer):
    set_prefill(shopper, PREFILL)
    response = shopper.post(reverse("orders:checkout"), checkout_fields(shopper, PREFILL))

    assert response.status_code == 302
    assert Order.objects.get(owner=customer).ship_city == "Peoria"
    assert CHECKOUT_PREFILL not in shopper.session


def test_a_failed_submit_keeps_the_prefill(shopper):
    set_prefill(shopper, PREFILL)
    key = checkout_key(shopper)

    shopper.post(reverse("orders:checkout"), {**PREFILL, "zip": "nope", "idempotency_key": key})

    assert shopper.session[CHECKOUT_PREFILL] == PREFILL


def test_save_this_address_keeps_it_in_the_book(shopper, customer):
    response = shopper.post(reverse("orders:checkout"), checkout_fields(shopper, shipping(WORK), save_address="on"),
                            follow=True)

    saved = Address.objects.get(user=customer)
    assert saved.shipping() == shipping(WORK)
    assert saved.is_default  # the first of the book
    assert saved.label == "9 Office Park, Chicago"
    assert "The address was saved to your address book as \u201c9 Office Park, Chicago\u201d." in (
        response.content.decode())


def test_an_address_already_in_the_book_is_not_saved_twice(shopper, customer):
    account_services.address_create(user=customer, **WORK)
    shopper.post(reverse("orders:checkout"), checkout_fields(shopper, shipping(WORK), save_address="on"))

    assert Address.objects.filter(user=customer).count() == 1
    assert Order.objects.filter(owner=customer).count() == 1


def test_without_the_box_nothing_is_saved(shopper, customer):
    shopper.post(reverse("orders:checkout"), checkout_fields(shopper, shipping(WORK)))

    assert Order.objects.filter(owner=customer).count() == 1
    assert not Address.objects.filter(user=customer).exists()


def test_a_full_book_is_told_and_the_order_stands(shopper, customer):
    for number in range(account_services.ADDRESS_BOOK_LIMIT):
        account_services.address_create(user=customer, **{**HOME, "label": f"Place {number}"})
    response = shopper.post(reverse("orders:checkout"), checkout_fields(shopper, shipping(WORK), save_address="on"),
                            follow=True)

    assert Order.objects.filter(owner=customer).count() == 1
    assert "The address was not saved to your address book: Your address book is full" in response.content.decode()
    assert Address.objects.filter(user=customer).count() == account_services.ADDRESS_BOOK_LIMIT


# --- the error summary ----------------------------------------------------------------------

def test_a_failed_submit_shows_the_error_summary_linking_to_each_field(shopper):
    key = checkout_key(shopper)

    response = shopper.post(reverse("orders:checkout"), {"address": "", "city": "Springfield", "state": "IL",
                                                         "zip": "123", "card_number": "1234", "idempotency_key": key})

    html = response.content.decode()
    summary = re.search(r'<div class="error-summary"[^>]*>.*?</div>', html, re.S).group(0)
    assert 'role="alert"' in summary and 'tabindex="-1"' in summary and "autofocus" in summary
    assert "There is a problem" in summary
    assert re.findall(r'<a href="(#id_\w+)">', summary) == ["#id_address", "#id_zip", "#id_card_number"]
    assert '<a href="#id_zip">ZIP code: Enter a ZIP code like 12345 or 12345-6789.</a>' in summary
    zip_input = re.search(r'<input[^>]*name="zip"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in zip_input and 'aria-describedby="id_zip_error"' in zip_input
    assert 'id="id_zip_error"' in html
    assert not Order.objects.exists()


def test_a_stale_page_is_in_the_summary_without_a_link(shopper):
    key = checkout_key(shopper)

    response = shopper.post(reverse("orders:checkout"), {**PREFILL, "seen_prices": "{not json",
                                                         "idempotency_key": key})

    summary = re.search(r'<div class="error-summary"[^>]*>.*?</div>', response.content.decode(), re.S).group(0)
    assert "This checkout page is out of date; please review your order." in summary
    assert "<a " not in summary
    assert not Order.objects.exists()


def test_the_page_without_errors_has_no_summary_and_a_busy_label_on_the_button(shopper):
    html = shopper.get(reverse("orders:checkout")).content.decode()

    assert "error-summary" not in html
    assert 'data-busy-label="Placing order…"' in html
    assert "Save this address to my address book" in html


# --- signing up from checkout -----------------------------------------------------------------

@pytest.mark.django_db
def test_the_headers_links_carry_the_current_page(client, catalog):
    html = client.get(reverse("orders:cart")).content.decode()

    assert 'href="/accounts/register/?next=/cart/"' in html
    assert 'href="/accounts/login/?next=/cart/"' in html


@pytest.mark.django_db
def test_on_the_sign_in_page_the_header_passes_its_next_on(client):
    html = client.get(reverse("accounts:login") + "?next=/checkout/").content.decode()

    assert 'href="/accounts/register/?next=/checkout/"' in html


@pytest.mark.django_db
def test_registering_from_checkout_returns_to_checkout(client, catalog):
    client.post(reverse("orders:cart_add"), {"product_id": "prod-002"})
    login_page = client.get(reverse("orders:checkout"), follow=True)
    register_url = re.search(r'href="(/accounts/register/\?next=[^"]+)"', login_page.content.decode()).group(1)

    response = client.post(register_url, {"email": "new@example.com", "name": "New Customer",
                                          "password1": PASSWORD, "password2": PASSWORD})

    assert response.status_code == 302 and response["Location"] == reverse("orders:checkout")
    assert client.get(reverse("orders:checkout")).status_code == 200


@pytest.mark.django_db
def test_register_refuses_to_send_anyone_off_site(client):
    response = client.post(reverse("accounts:register") + "?next=//evil.example/checkout/",
                           {"email": "new@example.com", "name": "New Customer",
                            "password1": PASSWORD, "password2": PASSWORD})

    assert response.status_code == 302 and response["Location"] == "/"
