"""Checkout's shipping options in Chromium: they follow the address typed or picked, express is what
the order then costs, and without JavaScript a submit brings them before the order is placed."""
import re
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts import services as account_services
from orders.models import Order
from tests.browser.test_storefront import add_to_cart_from_the_grid, fill_checkout, page_without_javascript, sign_in

pytestmark = pytest.mark.browser

NEW_YORK = {"label": "Work", "address": "350 Fifth Avenue", "city": "New York", "state": "NY", "zip": "10118"}


@pytest.fixture(autouse=True)
def threshold(settings):
    settings.FREE_SHIPPING_THRESHOLD = "100.00"


def options(page: Page):
    return page.get_by_role("group", name="Shipping", exact=True)


def totals(page: Page):
    return page.locator("#checkout-totals")


def test_the_options_for_the_address_typed_and_express_placed(page: Page, live_server, transactional_db, client,
                                                               customer, catalog):
    sign_in(page, live_server, client, customer)
    add_to_cart_from_the_grid(page, live_server, "Desk Mat")  # $34.99, 500 g
    page.goto(f"{live_server.url}/checkout/")
    expect(options(page)).to_contain_text("Enter your address to see the shipping options and their prices.")

    fill_checkout(page)  # Springfield, IL: the fallback zone

    standard = options(page).get_by_role("radio", name=re.compile(r"^Standard \$10\.49 Arrives \w{3} \d+ \w{3}"))
    express = options(page).get_by_role("radio", name=re.compile(r"^Express \$28\.49 Arrives"))
    expect(standard).to_be_checked()
    expect(totals(page)).to_contain_text("Total$45.48")
    express.check()
    expect(totals(page)).to_contain_text("Shipping (Express)$28.49")
    expect(totals(page)).to_contain_text("Total$63.48")
    expect(options(page).get_by_role("radio", name=re.compile("^Express"))).to_be_checked()  # kept in the new options
    page.get_by_role("button", name="Place order · $63.48").click()

    expect(page.get_by_role("heading", level=1, name=re.compile(r"^Order #\d{6}$"))).to_be_visible()
    expect(page.locator("main")).to_contain_text("$63.48")
    order = Order.objects.get(owner=customer)
    assert (order.shipping_service, order.shipping_cost, order.total) == ("express", Decimal("28.49"),
                                                                          Decimal("63.48"))


def test_picking_a_saved_address_brings_its_options(page: Page, live_server, transactional_db, client, customer,
                                                    catalog):
    account_services.address_create(user=customer, label="Home", address="1 Market Street", city="Springfield",
                                    state="IL", zip="62701")
    work = account_services.address_create(user=customer, **NEW_YORK)
    sign_in(page, live_server, client, customer)
    add_to_cart_from_the_grid(page, live_server, "Desk Mat")
    page.goto(f"{live_server.url}/checkout/")
    expect(options(page).get_by_role("radio", name=re.compile(r"^Standard \$10\.49"))).to_be_checked()

    page.get_by_label("Ship to a saved address").select_option(value=str(work.pk))

    # New York City: 4.99 + 0.50 for the kilogram.
    expect(options(page).get_by_role("radio", name=re.compile(r"^Standard \$5\.49"))).to_be_checked()
    expect(totals(page)).to_contain_text("Total$40.48")


def test_without_javascript_a_submit_shows_the_options_then_places_the_order(browser: Browser, live_server,
                                                                             transactional_db, client, customer,
                                                                             catalog):
    client.force_login(customer)
    client.post("/cart/add/", {"product_id": "prod-005"})
    with page_without_javascript(browser, live_server, client) as page:
        page.goto(f"{live_server.url}/checkout/")
        fill_checkout(page, javascript=False)
        page.get_by_role("button", name=re.compile("^Place order")).click()

        expect(page.get_by_role("heading", level=1, name="Checkout")).to_be_visible()
        expect(page.locator(".error-summary")).to_contain_text("Shipping: Choose a shipping option.")
        expect(options(page).get_by_role("radio", name=re.compile(r"^Standard \$10\.49"))).to_be_checked()
        assert not Order.objects.filter(owner=customer).exists()
        options(page).get_by_role("radio", name=re.compile("^Express")).check()
        page.get_by_role("button", name=re.compile("^Place order")).click()

        expect(page.get_by_role("heading", level=1, name=re.compile(r"^Order #\d{6}$"))).to_be_visible()
    assert Order.objects.get(owner=customer).total == Decimal("63.48")


def test_while_the_options_update_they_say_so_and_place_order_waits(page: Page, live_server, transactional_db,
                                                                    client, customer, catalog):
    sign_in(page, live_server, client, customer)
    add_to_cart_from_the_grid(page, live_server, "Desk Mat")  # $34.99, 500 g
    page.goto(f"{live_server.url}/checkout/")
    fill_checkout(page)
    expect(options(page).get_by_role("radio", name=re.compile(r"^Standard \$10\.49"))).to_be_checked()
    held = []
    page.route("**/checkout/shipping/", lambda route: held.append(route))  # the carrier is slow: the answer waits

    options(page).get_by_role("radio", name=re.compile(r"^Express")).check()

    place = page.get_by_role("button", name=re.compile(r"^Place order"))
    expect(options(page)).to_have_attribute("aria-busy", "true")
    expect(options(page).get_by_role("status")).to_have_text("Updating shipping options…")
    expect(place).to_be_disabled()
    expect(place).to_have_accessible_description("Updating shipping options…")
    held[0].continue_()
    expect(totals(page)).to_contain_text("Total$63.48")
    expect(options(page)).not_to_have_attribute("aria-busy", "true")
    expect(options(page).get_by_text("Updating shipping options…")).to_be_hidden()
    expect(page.get_by_role("button", name="Place order · $63.48")).to_be_enabled()


@pytest.mark.parametrize("status", [403, 503])
def test_options_that_could_not_be_updated_say_so_in_the_fieldset(page: Page, live_server, transactional_db,
                                                                 client, customer, catalog, status):
    sign_in(page, live_server, client, customer)
    add_to_cart_from_the_grid(page, live_server, "Desk Mat")
    page.goto(f"{live_server.url}/checkout/")
    fill_checkout(page)
    expect(options(page).get_by_role("radio", name=re.compile(r"^Standard \$10\.49"))).to_be_checked()
    page.route("**/checkout/shipping/", lambda route: route.fulfill(status=status, body="refused"))

    options(page).get_by_role("radio", name=re.compile(r"^Express")).check()

    expect(options(page).get_by_role("alert")).to_have_text(
        "We couldn’t update the shipping options; they’ll be checked again when you place your order.")
    expect(options(page)).not_to_have_attribute("aria-busy", "true")
    expect(page.get_by_role("button", name=re.compile(r"^Place order"))).to_be_enabled()
