"""Checkout's shipping: the options for the address typed, with price and dates; the one chosen is
charged; a rate that changed, or an address changed after the options were shown, places nothing;
a carrier that cannot quote leaves standard at the rate card's price and express unavailable."""
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from catalog.models import Product
from orders.models import Order
from providers.models import GatewayCall, ShippingRate
from tests.storefront.checkout_forms import ADDRESS, checkout_fields, checkout_form

# The seed rate card (fixtures/shipping.json) for a parcel billed as 1 kg (products weigh 500 g):
# Springfield, IL ships from the fallback zone (8.99 + 1.50 / kg; express 24.99 + 3.50 / kg).
STANDARD_IL, EXPRESS_IL = "$10.49", "$28.49"
NEW_YORK = {"address": "350 Fifth Avenue", "city": "New York", "state": "NY", "zip": "10118"}
HONOLULU = {"address": "1 Aloha Tower Drive", "city": "Honolulu", "state": "HI", "zip": "96813"}
CHOOSE = "Choose a shipping option."


pytestmark = pytest.mark.usefixtures("shop_free_shipping_threshold", "outages_forgotten")


@pytest.fixture
def shopper(client, customer, catalog):
    """A customer with no address yet and a Desk Mat ($34.99) in the cart."""
    client.force_login(customer)
    client.post(reverse("orders:cart_add"), {"product_id": "prod-005"})
    return client


def options_shown(html: str) -> dict[str, str]:
    """{label: what its line says} of the shipping options on a page."""
    items = re.findall(r'<li class="shipping-option[^"]*">(.*?)</li>', html, re.S)
    return {re.search(r'shipping-option__label">([^<]+)', item).group(1):
            " ".join(re.sub(r"<[^>]+>", " ", item).split()) for item in items}


def summary(html: str) -> str:
    block = re.search(r'<dl id="checkout-totals".*?</dl>', html, re.S).group(0)
    return " ".join(re.sub(r"<[^>]+>", " ", block).split())


def test_the_checkout_asks_for_the_address_before_it_shows_shipping(shopper):
    html = shopper.get(reverse("orders:checkout")).content.decode()

    assert "Enter your address to see the shipping options and their prices." in html
    assert summary(html) == "Items (1) $34.99 Shipping With your address Total before shipping $34.99"


def test_without_javascript_a_submit_without_an_option_shows_them_and_places_nothing(shopper, customer):
    fields, _ = checkout_form(shopper.get(reverse("orders:checkout")).content.decode())

    response = shopper.post(reverse("orders:checkout"), {**fields, **ADDRESS})

    html = response.content.decode()
    assert response.status_code == 200
    assert CHOOSE in html
    shown = options_shown(html)
    assert shown["Standard"].startswith(f"Standard {STANDARD_IL} Arrives ")
    assert "Free on orders of $100.00 or more" in shown["Standard"]
    assert shown["Express"].startswith(f"Express {EXPRESS_IL} Arrives ")
    assert re.search(r"Arrives \w{3} \d{1,2} \w{3}", shown["Express"])  # "Arrives Wed 9 Dec – Thu 10 Dec"
    assert summary(html) == f"Items (1) $34.99 Shipping (Standard) {STANDARD_IL} Total $45.48"
    assert "Place order · <span id=\"place-order-total\">$45.48</span>" in html
    assert not Order.objects.filter(owner=customer).exists()


def test_the_chosen_option_is_what_the_order_costs_and_what_is_charged(shopper, customer,
                                                                       django_capture_on_commit_callbacks):
    fields = checkout_fields(shopper, service="express", card_number="4242 4242 4242 4242")

    with django_capture_on_commit_callbacks(execute=True):
        placed = shopper.post(reverse("orders:checkout"), fields)

    order = Order.objects.get(owner=customer)
    assert placed["Location"] == reverse("orders:order_detail", args=[order.pk])
    assert (order.subtotal, order.shipping_service, order.shipping_cost, order.total) == (
        Decimal("34.99"), "express", Decimal("28.49"), Decimal("63.48"))
    assert order.delivery_earliest is not None and order.delivery_latest >= order.delivery_earliest
    charge = GatewayCall.objects.get(order_id=order.pk, gateway="payment", operation="charge")
    assert charge.result["data"]["amount"] == "63.48"


def test_standard_is_checked_and_placed_unless_another_is_chosen(shopper, customer):
    shopper.post(reverse("orders:checkout"), checkout_fields(shopper))

    order = Order.objects.get(owner=customer)
    assert (order.shipping_service, order.shipping_cost, order.total) == (
        "standard", Decimal("10.49"), Decimal("45.48"))


def test_a_heavy_order_to_a_far_zone_costs_more_to_ship_than_a_light_one_nearby(client, make_user, catalog):
    Product.objects.filter(public_id="prod-006").update(weight_grams=6000)  # Cable Management Kit, $24.99
    costs = {}
    for name, product, quantity, address in [("light near", "prod-005", 1, NEW_YORK),
                                             ("heavy far", "prod-006", 3, HONOLULU)]:
        client.force_login(make_user())
        client.post(reverse("orders:cart_add"), {"product_id": product, "quantity": quantity})
        client.post(reverse("orders:checkout"), checkout_fields(client, address))
        costs[name] = Order.objects.latest("pk").shipping_cost

    # New York City: 4.99 + 0.50 × 1 kg; Alaska, Hawaii and territories: 19.99 + 4.00 × 18 kg.
    assert costs == {"light near": Decimal("5.49"), "heavy far": Decimal("91.99")}


def test_standard_ships_free_at_the_threshold_and_says_so(shopper, customer):
    shopper.post(reverse("orders:cart_add"), {"product_id": "prod-001"})  # $149.99 more

    html = shopper.post(reverse("orders:checkout"), {
        **checkout_form(shopper.get(reverse("orders:checkout")).content.decode())[0], **ADDRESS}).content.decode()

    assert options_shown(html)["Standard"].startswith("Standard Free Arrives ")
    assert summary(html) == "Items (2) $184.98 Shipping (Standard) Free Total $184.98"


def test_a_rate_changed_before_the_submit_places_nothing_and_shows_the_new_price(shopper, customer):
    fields = checkout_fields(shopper)
    ShippingRate.objects.filter(zone__is_fallback=True, service="standard").update(base_cost=Decimal("11.99"))

    response = shopper.post(reverse("orders:checkout"), fields)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Standard shipping now costs $13.49 (was $10.49)." in html
    assert "Nothing was charged" in html
    assert options_shown(html)["Standard"].startswith("Standard $13.49 ")
    assert not Order.objects.filter(owner=customer).exists()
    # The page shows today's price; placing it again charges that.
    again = shopper.post(reverse("orders:checkout"), checkout_form(html)[0])
    order = Order.objects.get(owner=customer)
    assert again["Location"] == reverse("orders:order_detail", args=[order.pk])
    assert order.shipping_cost == Decimal("13.49")


def test_an_address_changed_after_the_options_shows_the_new_ones_and_places_nothing(shopper, customer):
    fields = checkout_fields(shopper)

    response = shopper.post(reverse("orders:checkout"), {**fields, **NEW_YORK})

    html = response.content.decode()
    assert CHOOSE in html
    assert options_shown(html)["Standard"].startswith("Standard $5.49 ")
    assert not Order.objects.filter(owner=customer).exists()
    shopper.post(reverse("orders:checkout"), checkout_form(html)[0])
    assert Order.objects.get(owner=customer).shipping_cost == Decimal("5.49")


def test_with_the_carrier_out_standard_is_priced_from_the_rate_card_and_express_is_unavailable(shopper, customer):
    call_command("provider_outage", "rates", "--mode", "error", "--seconds", "600", stdout=None)
    fields, _ = checkout_form(shopper.get(reverse("orders:checkout")).content.decode())

    html = shopper.post(reverse("orders:checkout"), {**fields, **ADDRESS}).content.decode()

    shown = options_shown(html)
    assert shown["Standard"].startswith(f"Standard {STANDARD_IL} Arrives ")
    assert shown["Express"] == "Express Unavailable for now"
    assert re.search(r'<input type="radio" name="shipping_rate" value="" id="id_shipping_rate_express" disabled>', html)
    assert "express shipping is unavailable for now" in html
    shopper.post(reverse("orders:checkout"), checkout_form(html)[0])
    order = Order.objects.get(owner=customer)
    assert (order.shipping_service, order.shipping_cost) == ("standard", Decimal("10.49"))


def test_an_address_no_zone_takes_says_so(shopper, customer):
    from providers.models import ShippingZone

    ShippingZone.objects.filter(is_fallback=True).update(is_fallback=False)
    fields, _ = checkout_form(shopper.get(reverse("orders:checkout")).content.decode())

    html = shopper.post(reverse("orders:checkout"), {**fields, **ADDRESS}).content.decode()

    assert "We do not ship to this address." in html
    assert 'name="shipping_rate"' not in html
    assert not Order.objects.filter(owner=customer).exists()


# --- HTMX -----------------------------------------------------------------------------------

def test_the_options_for_the_address_typed_come_as_a_fragment_with_the_summary(shopper):
    response = shopper.post(reverse("orders:checkout_shipping"), {**ADDRESS, "card_number": "4242"},
                            headers={"HX-Request": "true"})

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith("<fieldset id=\"shipping-options\"")
    assert options_shown(html)["Express"].startswith(f"Express {EXPRESS_IL} ")
    assert '<dl id="checkout-totals" class="summary__rows" hx-swap-oob="true">' in html
    assert summary(html) == f"Items (1) $34.99 Shipping (Standard) {STANDARD_IL} Total $45.48"
    assert '<span id="place-order-total" hx-swap-oob="true">$45.48</span>' in html


def test_the_fragment_keeps_the_service_chosen(shopper):
    _, rates = checkout_form(shopper.post(reverse("orders:checkout"), {
        **checkout_form(shopper.get(reverse("orders:checkout")).content.decode())[0], **ADDRESS}).content.decode())

    html = shopper.post(reverse("orders:checkout_shipping"), {**ADDRESS, "shipping_rate": rates["express"]},
                        headers={"HX-Request": "true"}).content.decode()

    assert re.search(r'id="id_shipping_rate_express" checked', html)
    assert summary(html) == f"Items (1) $34.99 Shipping (Express) {EXPRESS_IL} Total $63.48"


def test_the_fragment_for_an_incomplete_address_asks_for_it(shopper):
    html = shopper.post(reverse("orders:checkout_shipping"), {**ADDRESS, "city": " "},
                        headers={"HX-Request": "true"}).content.decode()

    assert "Enter your address to see the shipping options and their prices." in html
    assert "Total before shipping" in html


def test_the_fragment_with_an_empty_cart_sends_the_page_to_the_cart(client, customer, catalog):
    client.force_login(customer)

    response = client.post(reverse("orders:checkout_shipping"), ADDRESS, headers={"HX-Request": "true"})

    assert response["HX-Redirect"] == reverse("orders:cart")


def test_the_fragment_needs_the_pages_csrf_token(customer, catalog):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer)
    browser.get(reverse("orders:cart"))  # every page carries the token, for htmx's X-CSRFToken header
    token = browser.cookies["csrftoken"].value
    browser.post(reverse("orders:cart_add"), {"product_id": "prod-005", "csrfmiddlewaretoken": token})

    refused = browser.post(reverse("orders:checkout_shipping"), ADDRESS, headers={"HX-Request": "true"})
    answered = browser.post(reverse("orders:checkout_shipping"), ADDRESS,
                            headers={"HX-Request": "true", "X-CSRFToken": token})

    assert refused.status_code == 403
    assert answered.status_code == 200 and "shipping-options" in answered.content.decode()


def test_the_checkout_page_asks_for_the_options_when_the_address_changes(shopper):
    html = shopper.get(reverse("orders:checkout")).content.decode()

    assert f'hx-post="{reverse("orders:checkout_shipping")}" hx-trigger="change delay:400ms"' in html
    assert 'hx-params="address,city,state,zip,shipping_rate"' in html


def test_a_saved_default_address_shows_its_options_at_once(shopper, customer):
    from accounts import services as account_services

    account_services.address_create(user=customer, label="Home", **NEW_YORK)

    html = shopper.get(reverse("orders:checkout")).content.decode()

    assert options_shown(html)["Standard"].startswith("Standard $5.49 ")
    shopper.post(reverse("orders:checkout"), checkout_form(html)[0])
    assert Order.objects.get(owner=customer).shipping_cost == Decimal("5.49")


# --- the cart --------------------------------------------------------------------------------

def test_the_cart_shows_the_subtotal_and_that_shipping_comes_at_checkout(shopper):
    html = shopper.get(reverse("orders:cart")).content.decode()

    assert "Shipping calculated at checkout" in html
    assert re.search(r"<dt>Subtotal</dt><dd[^>]*>\$34\.99</dd>", html)


def test_an_item_price_and_a_rate_changed_together_say_both_and_the_new_shipping(shopper, customer):
    fields = checkout_fields(shopper)
    ShippingRate.objects.filter(zone__is_fallback=True, service="standard").update(base_cost=Decimal("11.99"))
    Product.objects.filter(public_id="prod-005").update(price=Decimal("30.00"))

    response = shopper.post(reverse("orders:checkout"), fields)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Desk Mat now costs $30.00 (was $34.99)" in html
    assert "Standard shipping now costs $13.49 (was $10.49)." in html
    assert not Order.objects.filter(owner=customer).exists()
    again = shopper.post(reverse("orders:checkout"), checkout_form(html)[0])
    order = Order.objects.get(owner=customer)
    assert again["Location"] == reverse("orders:order_detail", args=[order.pk])
    assert (order.subtotal, order.shipping_cost) == (Decimal("30.00"), Decimal("13.49"))


def test_a_page_shown_again_for_another_reason_does_not_invent_a_shipping_change(shopper, customer):
    fields = checkout_fields(shopper)
    Product.objects.filter(public_id="prod-005").update(price=Decimal("30.00"))

    html = shopper.post(reverse("orders:checkout"), fields).content.decode()

    assert "Desk Mat now costs $30.00 (was $34.99)" in html
    assert "shipping now costs" not in html


@pytest.mark.parametrize("zip_code", ["１０１１８", "1011"])
def test_a_complete_address_with_a_zip_code_in_the_wrong_shape_says_what_is_wrong(shopper, zip_code):
    html = shopper.post(reverse("orders:checkout_shipping"), {**NEW_YORK, "zip": zip_code},
                        headers={"HX-Request": "true"}).content.decode()

    prompt = re.search(r'shipping-options__prompt">([^<]*)', html).group(1)
    assert "ZIP" in prompt
    assert "Enter your address" not in prompt
    assert options_shown(html) == {}


@pytest.mark.parametrize("state", ["ny", " Ny "])
def test_a_two_letter_state_is_kept_upper_case_with_or_without_javascript(shopper, customer, state):
    typed = {**NEW_YORK, "state": state}
    # With JavaScript: the options come from the fragment for the address as typed.
    fields, _ = checkout_form(shopper.get(reverse("orders:checkout")).content.decode())
    fragment = shopper.post(reverse("orders:checkout_shipping"), typed, headers={"HX-Request": "true"}).content.decode()
    fragment_fields, rates = checkout_form(f'<form method="post" action="{reverse("orders:checkout")}">'
                                           f'{fragment}</form>')

    response = shopper.post(reverse("orders:checkout"), {**fields, **typed, "shipping_rate": rates["standard"],
                                                         "shipping_for": fragment_fields["shipping_for"],
                                                         "save_address": "on"})

    order = Order.objects.get(owner=customer)
    assert response["Location"] == reverse("orders:order_detail", args=[order.pk])
    assert order.ship_state == "NY"
    assert list(customer.addresses.values_list("state", flat=True)) == ["NY"]


def test_a_state_written_out_stays_as_typed(shopper, customer):
    shopper.post(reverse("orders:checkout"), checkout_fields(shopper, {**NEW_YORK, "state": " New York "}))

    assert Order.objects.get(owner=customer).ship_state == "New York"


def test_the_options_say_how_they_show_that_they_are_updating_or_could_not_be(shopper):
    html = shopper.get(reverse("orders:checkout")).content.decode()

    assert 'data-shipping-options' in html
    assert re.search(r'id="shipping-options-busy" role="status" hidden>Updating shipping options…<', html)
    assert "We couldn’t update the shipping options; they’ll be checked again when you place your order." in html
