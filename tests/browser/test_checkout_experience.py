"""Checkout in a real browser: the error summary takes focus and leads to each field, Place order
says "Placing order…" and places one order however often it is pressed, a saved address fills
the form, signing up from checkout comes back to it, and the profile page keeps the address book."""
import re

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from accounts import services as account_services
from orders.models import Order
from tests.browser.test_storefront import (
    add_to_cart_from_the_grid,
    fill_checkout,
    header,
    page_without_javascript,
    shipping_options_for,
    sign_in,
)
from tests.conftest import CARD_APPROVE, CARD_DECLINE, PASSWORD

pytestmark = pytest.mark.browser

WORK = {"label": "Work", "address": "9 Office Park", "city": "Chicago", "state": "IL", "zip": "60601"}
WORK_FIELDS = ("9 Office Park", "Chicago", "60601")


BUTTON_RECORDER = """() => {
  const button = document.querySelector("form[method=post] button[type=submit][data-busy-label]");
  const note = () => sessionStorage.setItem("placeOrderButton",
    JSON.stringify({text: button.textContent.trim(), disabled: button.disabled}));
  new MutationObserver(note).observe(button, {attributes: true, childList: true, characterData: true, subtree: true});
}"""


def error_summary(page: Page):
    return page.get_by_role("alert").filter(has=page.get_by_role("heading", name="There is a problem"))


def submit_a_bad_checkout(page: Page) -> None:
    fill_checkout(page, zip_code="ABC")
    page.get_by_label("Street address").fill("")
    page.get_by_role("button", name="Place order").click()


def test_a_failed_checkout_focuses_the_summary_whose_links_reach_each_field(page: Page, live_server,
                                                                             transactional_db, client, customer,
                                                                             catalog):
    sign_in(page, live_server, client, customer)
    add_to_cart_from_the_grid(page, live_server, "Desk Mat")
    page.goto(f"{live_server.url}/checkout/")

    submit_a_bad_checkout(page)

    expect(error_summary(page)).to_be_focused()
    links = error_summary(page).get_by_role("link")
    expect(links).to_have_text(["Street address: This field is required.",
                                "ZIP code: Enter a ZIP code like 12345 or 12345-6789."])
    page.keyboard.press("Tab")  # one Tab from the summary: the first error, not the header's 13 links
    expect(links.first).to_be_focused()

    links.nth(1).click()
    expect(page.get_by_label("ZIP code")).to_be_focused()
    expect(page.get_by_label("ZIP code")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("ZIP code")).to_have_accessible_description(re.compile("Enter a ZIP code like 12345"))
    assert Order.objects.count() == 0


def test_without_javascript_the_summary_still_takes_focus(browser: Browser, live_server, transactional_db, client,
                                                          customer, catalog):
    client.force_login(customer)
    client.post("/cart/add/", {"product_id": "prod-002"})
    with page_without_javascript(browser, live_server, client) as page:
        page.goto(f"{live_server.url}/checkout/")
        submit_a_bad_checkout(page)

        expect(error_summary(page)).to_be_focused()
        expect(error_summary(page).get_by_role("link", name=re.compile("^ZIP code:"))).to_have_attribute(
            "href", "#id_zip")


def test_place_order_says_placing_order_and_a_double_click_places_one_order(page: Page, live_server,
                                                                            transactional_db, client, customer,
                                                                            catalog):
    sign_in(page, live_server, client, customer)
    add_to_cart_from_the_grid(page, live_server, "USB-C Hub")
    page.goto(f"{live_server.url}/checkout/")
    fill_checkout(page)
    held: list[Route] = []

    def hold_the_post(route: Route) -> None:
        if route.request.method == "POST":
            held.append(route)  # a slow network: the answer comes when the test lets it through
        else:
            route.continue_()

    page.route(re.compile(r".*/checkout/$"), hold_the_post)
    button = page.get_by_role("button", name=re.compile("^Place order"))

    box = button.bounding_box()
    # While its request is pending the page cannot be read (Playwright waits for the navigation):
    # the page notes what its button shows, in sessionStorage, which outlives the navigation.
    page.evaluate(BUTTON_RECORDER)

    button.dblclick()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # a third, impatient press
    page.keyboard.press("Enter")
    page.wait_for_timeout(500)
    assert len(held) == 1
    held[0].continue_()

    expect(page.get_by_role("heading", level=1, name=re.compile(r"^Order #"))).to_be_visible()
    assert page.evaluate("() => JSON.parse(sessionStorage.getItem('placeOrderButton'))") == {
        "text": "Placing order…", "disabled": True}
    assert Order.objects.filter(owner=customer).count() == 1


def test_choosing_a_saved_address_fills_the_form(page: Page, live_server, transactional_db, client, customer,
                                                  catalog):
    account_services.address_create(user=customer, label="Home", address="1 Market Street", city="Springfield",
                                    state="IL", zip="62701")
    account_services.address_create(user=customer, **WORK)
    sign_in(page, live_server, client, customer)
    add_to_cart_from_the_grid(page, live_server, "Desk Mat")
    page.goto(f"{live_server.url}/checkout/")
    expect(page.get_by_label("Street address")).to_have_value("1 Market Street")  # the default

    page.get_by_label("Ship to a saved address").select_option(label="Work: 9 Office Park, Chicago, IL 60601")

    expect(page.get_by_label("Street address")).to_have_value("9 Office Park")
    expect(page.get_by_label("City", exact=True)).to_have_value("Chicago")
    expect(page.get_by_label("ZIP code")).to_have_value("60601")
    shipping_options_for(page, WORK)
    page.get_by_role("button", name=re.compile("^Place order")).click()
    expect(page.get_by_role("heading", level=1, name=re.compile(r"^Order #"))).to_be_visible()
    assert Order.objects.get(owner=customer).ship_city == "Chicago"


def test_registering_from_checkout_comes_back_to_checkout(page: Page, live_server, transactional_db, catalog):
    add_to_cart_from_the_grid(page, live_server, "Monitor Light Bar")
    page.goto(f"{live_server.url}/cart/")
    page.get_by_role("link", name="Proceed to checkout").click()
    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()

    header(page).get_by_role("link", name="Register").click()
    page.get_by_label("E-mail address").fill("grace@example.com")
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()

    expect(page).to_have_url(f"{live_server.url}/checkout/")
    expect(page.get_by_role("heading", level=1, name="Checkout")).to_be_visible()
    expect(page.get_by_role("complementary", name="Order summary")).to_contain_text("Monitor Light Bar")


def test_the_address_book_on_the_profile_page(page: Page, live_server, transactional_db, client, customer):
    sign_in(page, live_server, client, customer)
    page.goto(f"{live_server.url}/accounts/profile/")
    expect(page.get_by_text("No saved addresses yet")).to_be_visible()

    for label, fields in (("Home", ("1 Market Street", "Springfield", "62701")), ("Work", WORK_FIELDS)):
        page.get_by_role("link", name="Add an address").click()
        page.get_by_label("Label").fill(label)
        page.get_by_label("Street address").fill(fields[0])
        page.get_by_label("City").fill(fields[1])
        page.get_by_label("State").fill("IL")
        page.get_by_label("ZIP code").fill(fields[2])
        page.get_by_role("button", name="Save address").click()
        expect(page.get_by_role("status").filter(has_text="was added")).to_contain_text(f"\u201c{label}\u201d")

    addresses = page.get_by_role("list", name="Your addresses").get_by_role("listitem")
    expect(addresses).to_have_count(2)
    expect(addresses.first).to_contain_text("Home Default")

    page.get_by_role("button", name="Make default Work").click()
    expect(addresses.first).to_contain_text("Work Default")

    page.get_by_role("button", name="Delete Home").click()
    expect(addresses).to_have_count(1)
    expect(addresses.first).to_contain_text("9 Office Park")


def test_without_javascript_try_again_a_saved_address_and_placing_work_once(browser: Browser, live_server,
                                                                            sync_pipeline, client, customer,
                                                                            place_order):
    failed = place_order(customer, card=CARD_DECLINE)
    work = account_services.address_create(user=customer, **WORK)
    client.force_login(customer)
    with page_without_javascript(browser, live_server, client, viewport={"width": 390, "height": 844}) as page:
        page.goto(f"{live_server.url}/orders/{failed.pk}/")
        page.get_by_role("button", name="Try again").click()
        expect(page).to_have_url(f"{live_server.url}/checkout/")
        expect(page.get_by_label("Street address")).to_have_value("1 Market Street")

        page.get_by_label("Ship to a saved address").select_option(str(work.pk))
        page.get_by_role("button", name="Use this address").click()
        for value in WORK_FIELDS:
            expect(page.locator(f"input[value='{value}']")).to_have_count(1)
        page.get_by_label("Card number").fill(CARD_APPROVE)
        page.get_by_role("button", name=re.compile("^Place order")).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Order")

        placed = Order.objects.get(retry_of=failed)
        assert (placed.ship_address, placed.ship_city, placed.ship_zip) == WORK_FIELDS
        page.goto(f"{live_server.url}/orders/{failed.pk}/")
        expect(page.get_by_role("link", name=placed.number)).to_be_visible()
        expect(page.get_by_role("button", name="Try again")).to_have_count(0)
