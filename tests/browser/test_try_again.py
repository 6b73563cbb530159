"""A declined card, then "Try again" with another card, in a real browser against a real
django-q2 worker (`qcluster`): the failed order says no charge was made and never "placed",
Try again refills the cart and the address, and the new order is delivered and linked."""
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from orders.models import Next, Order
from orders.services import order_cancel, order_reject
from tests.browser.test_storefront import (
    LIVE,
    add_to_cart_from_the_grid,
    order_state,
    page_without_javascript,
    place_order_through_the_pages,
    sign_in,
    stage,
    toasts,
)
from tests.conftest import CARD_APPROVE, CARD_DECLINE
from tests.review_rules import rule_create

pytestmark = pytest.mark.browser


def test_a_declined_card_is_tried_again_with_another_card_and_delivered(page: Page, live_server, qcluster, client,
                                                                       customer, catalog):
    sign_in(page, live_server, client, customer)
    failed_number = place_order_through_the_pages(page, live_server, "Desk Mat", card=CARD_DECLINE)

    expect(order_state(page)).to_have_text("Failed", timeout=LIVE)
    status = page.locator("#order-status")
    expect(status).to_contain_text("No charge was made.")
    expect(status).not_to_contain_text("tries")
    expect(toasts(page)).not_to_contain_text("has been placed")  # the polled status removed the stale toast

    page.get_by_role("button", name="Try again").click()

    expect(page.get_by_role("heading", level=1, name="Checkout")).to_be_visible()
    expect(toasts(page)).to_contain_text(f"Order {failed_number}: No charge was made.")
    expect(page.get_by_role("complementary", name="Order summary")).to_contain_text("Desk Mat")
    expect(page.get_by_label("Street address")).to_have_value("1 Market Street")
    expect(page.get_by_label("City", exact=True)).to_have_value("Springfield")
    expect(page.get_by_label("State", exact=True)).to_have_value("IL")
    expect(page.get_by_label("ZIP code")).to_have_value("62701")
    page.get_by_label("Card number").fill(CARD_APPROVE)
    page.get_by_role("button", name="Place order").click()

    heading = page.get_by_role("heading", level=1, name=re.compile(r"^Order #\d{6}$"))
    expect(heading).not_to_have_text(f"Order {failed_number}")
    expect(order_state(page)).to_have_text("Delivered", timeout=LIVE)
    related = page.get_by_role("region", name="Related orders")
    expect(related).to_contain_text(f"Tries again order {failed_number}")

    related.get_by_role("link", name=failed_number).click()
    expect(page.get_by_role("heading", level=1, name=f"Order {failed_number}")).to_be_visible()
    new = Order.objects.exclude(retry_of=None).get()
    expect(page.get_by_role("region", name="Related orders")).to_contain_text(f"Tried again as order {new.number}")
    assert new.state == "delivered" and new.retry_of.number == failed_number


# --- the next step of each ending, and Try again into a cart that holds something ------------------------------

# Orders placed here go through the pipeline as they commit (the tests' settings run it in-process).
def declined(place_order, customer, items):
    order = Order.objects.get(pk=place_order(customer, items, card=CARD_DECLINE).pk)
    assert order.state == "failed"
    return order


def held(place_order, customer):
    order = Order.objects.get(pk=place_order(customer, {"prod-001": 7}).pk)  # over the rule's $1,000
    assert order.state == "awaiting_approval"
    return order


def next_step(page: Page):
    return page.locator("#order-status .order-status__outcome")


def test_each_ending_shows_its_own_next_step(page: Page, live_server, transactional_db, client, customer,
                                             staff_user, catalog, place_order):
    failed = declined(place_order, customer, {"prod-003": 1})
    rule_create("Big orders", "total", "gte", "1000")
    rejected = order_reject(order=held(place_order, customer), actor=staff_user)
    cancelled = order_cancel(order=held(place_order, customer), actor=customer)
    sign_in(page, live_server, client, customer)

    page.goto(f"{live_server.url}/orders/{failed.pk}/")
    expect(next_step(page)).to_contain_text("No charge was made.")
    expect(next_step(page)).to_contain_text(Next.ANOTHER_CARD.advice)
    expect(next_step(page).get_by_role("button", name="Try again")).to_be_visible()

    page.goto(f"{live_server.url}/orders/{rejected.pk}/")
    expect(next_step(page)).to_contain_text(Next.CONTACT_SHOP.advice)
    expect(next_step(page).get_by_role("link", name="Contact the shop")).to_have_attribute(
        "href", re.compile(r"^mailto:"))
    expect(page.locator("#order-status")).not_to_contain_text("another card")
    expect(page.get_by_role("button", name="Try again")).to_have_count(0)

    page.goto(f"{live_server.url}/orders/{cancelled.pk}/")
    expect(next_step(page)).to_contain_text("You cancelled this order.")
    expect(page.locator("#order-status")).not_to_contain_text("another card")
    expect(stage(page, "Awaiting approval")).to_contain_text("Stopped here")  # it was reached
    expect(stage(page, "Shipping")).to_contain_text("Not reached")
    next_step(page).get_by_role("link", name="Shop again").click()
    expect(page.get_by_role("button", name="Add to Cart: Desk Mat")).to_be_visible()


def test_try_again_into_a_cart_that_holds_something_asks_and_does_what_was_chosen(
    page: Page, live_server, transactional_db, client, customer, catalog, place_order
):
    failed = declined(place_order, customer, {"prod-003": 1})  # a USB-C Hub, $79.99
    sign_in(page, live_server, client, customer)
    add_to_cart_from_the_grid(page, live_server, "Desk Mat")  # $34.99
    summary = page.get_by_role("complementary", name="Order summary")

    page.goto(f"{live_server.url}/orders/{failed.pk}/")
    page.get_by_role("button", name="Try again").click()
    expect(page.get_by_role("heading", level=1, name="Your cart already holds something")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/orders/{failed.pk}/try-again/cart/")
    page.reload()  # a page of its own: reloading asks again, it re-submits nothing
    expect(page.get_by_role("heading", level=1, name="Your cart already holds something")).to_be_visible()
    page.get_by_role("button", name="Replace my cart with this order").click()

    expect(page.get_by_role("heading", level=1, name="Checkout")).to_be_visible()
    expect(toasts(page)).to_contain_text("Your cart was emptied first: Desk Mat left it.")
    expect(summary).to_contain_text("USB-C Hub")
    expect(summary).not_to_contain_text("Desk Mat")
    expect(summary.locator(".summary__total")).to_contain_text("$79.99")

    add_to_cart_from_the_grid(page, live_server, "Desk Mat")
    page.goto(f"{live_server.url}/orders/{failed.pk}/")
    page.get_by_role("button", name="Try again").click()
    page.get_by_role("button", name="Add this order to my cart").click()

    expect(toasts(page)).to_contain_text("beside Desk Mat, which stayed in it")
    # the hub the replaced cart already held, and the order's hub added to it
    expect(toasts(page)).to_contain_text("USB-C Hub: 2 in your cart (1 already there + 1).")
    expect(summary.locator(".summary__total")).to_contain_text("$194.97")


def test_without_javascript_try_again_still_asks_and_replaces(browser: Browser, live_server, transactional_db,
                                                              client, customer, catalog, place_order):
    failed = declined(place_order, customer, {"prod-003": 1})
    client.force_login(customer)
    client.post("/cart/add/", {"product_id": "prod-005"})
    with page_without_javascript(browser, live_server, client) as page:
        page.goto(f"{live_server.url}/orders/{failed.pk}/")
        page.get_by_role("button", name="Try again").click()
        page.get_by_role("button", name="Replace my cart with this order").click()

        expect(page.get_by_role("heading", level=1, name="Checkout")).to_be_visible()
        summary = page.get_by_role("complementary", name="Order summary")
        expect(summary.locator(".summary__total")).to_contain_text("$79.99")
        expect(page.get_by_text("Your cart was emptied first: Desk Mat left it.")).to_be_visible()
