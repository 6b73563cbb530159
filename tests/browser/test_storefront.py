"""The storefront in a real browser: cart, checkout, orders, the live order page, cancelling,
notifications. Orders that should move are watched through a real django-q2 worker (`qcluster`)
and the order page's HTMX polling, without reloading."""
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings
from playwright.sync_api import Browser, Page, expect

from catalog.models import Product
from orders.models import TIMELINE, Order
from tests.conftest import CARD_APPROVE, CARD_DECLINE, PASSWORD
from tests.order_states import order_move

pytestmark = pytest.mark.browser

LIVE = 60_000  # ms: how long an order may take through the real worker (generous for loaded CI machines)


# --- helpers ------------------------------------------------------------------------------

def header(page: Page):
    return page.get_by_role("navigation", name="Main")


def cart_badge(page: Page):
    return page.locator("#cart-count")


def toasts(page: Page):
    return page.locator("#toasts")


def sign_in(page: Page, live_server, client, user) -> None:
    """Sign in by handing the browser a session made with the test client (fast)."""
    client.force_login(user)
    page.context.add_cookies([{
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": live_server.url,
    }])


@contextmanager
def page_without_javascript(browser: Browser, live_server, client, **context_options) -> Iterator[Page]:
    """A page with JavaScript off, signed in as the user `client` is logged in as (its session
    cookie); the context closes when the block ends."""
    context = browser.new_context(java_script_enabled=False, **context_options)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                          "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


def log_in_with_the_form(page: Page, email: str, password: str = PASSWORD) -> None:
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def add_to_cart_from_the_grid(page: Page, live_server, product: str) -> None:
    page.goto(live_server.url)
    before = cart_badge(page).inner_text()
    page.get_by_role("button", name=f"Add to Cart: {product}").click()
    expect(cart_badge(page)).not_to_have_text(before)


def cart_line(page: Page, product: str):
    return page.get_by_role("list", name="Items in your cart").get_by_role("listitem").filter(
        has=page.get_by_role("heading", name=product)
    )


def fill_checkout(page: Page, *, card: str | None = CARD_APPROVE, zip_code: str = "62701",
                  javascript: bool = True) -> None:
    """Type an address in Springfield, IL (and `card`); with JavaScript and a ZIP code the shop can
    quote, wait until the page shows the shipping options for it (it asks as the fields change)."""
    address = {"address": "1 Market Street", "city": "Springfield", "state": "IL", "zip": zip_code}
    page.get_by_label("Street address").fill(address["address"])
    page.get_by_label("City", exact=True).fill(address["city"])
    page.get_by_label("State", exact=True).fill(address["state"])
    page.get_by_label("ZIP code").fill(zip_code)
    if card:
        page.get_by_label("Card number").fill(card)
    if javascript and re.fullmatch(r"\d{5}", zip_code):
        page.get_by_label("ZIP code").dispatch_event("change")  # as leaving the field would, with no card typed
        shipping_options_for(page, address)


def shipping_options_for(page: Page, address: dict[str, str]) -> None:
    """Wait until the checkout shows the shipping options quoted for `address` (the page asks for
    them when a field changes: typed and left, or filled from a saved address)."""
    expect(page.locator("#shipping-options input[name=shipping_for]")).to_have_value(
        json.dumps({name: address[name] for name in ("address", "city", "state", "zip")}, sort_keys=True))
    expect(page.locator("#shipping-options input[name=shipping_rate]:checked")).to_have_count(1)


def place_order_through_the_pages(page: Page, live_server, product: str = "Wireless Mouse", **checkout) -> str:
    """Cart → checkout → order page; returns the order number shown in the heading."""
    add_to_cart_from_the_grid(page, live_server, product)
    page.goto(f"{live_server.url}/cart/")
    page.get_by_role("link", name="Proceed to checkout").click()
    expect(page.get_by_role("heading", level=1, name="Checkout")).to_be_visible()
    fill_checkout(page, **checkout)
    page.get_by_role("button", name="Place order").click()
    heading = page.get_by_role("heading", level=1, name=re.compile(r"^Order #\d{6}$"))
    expect(heading).to_be_visible()
    return heading.inner_text().removeprefix("Order ")


def order_state(page: Page):
    return page.locator("#order-status").get_by_role("status")


def timeline_stages(page: Page):
    """The timeline's stages (not the carrier's updates listed within the delivery stage)."""
    return page.get_by_role("list", name="Processing timeline").locator(":scope > li")


def stage(page: Page, label: str):
    """The timeline stage whose title is `label` ("Created — Completed")."""
    title = page.locator(".timeline__label", has_text=re.compile(rf"^\s*{re.escape(label)} —"))
    return timeline_stages(page).filter(has=title)


# --- cart -------------------------------------------------------------------------------

def test_add_to_cart_updates_the_badge_and_says_so(page: Page, live_server, transactional_db, catalog):
    page.goto(live_server.url)
    expect(cart_badge(page)).to_have_text("0")

    page.get_by_role("button", name="Add to Cart: Wireless Mouse").click()

    expect(cart_badge(page)).to_have_text("1")
    expect(toasts(page)).to_contain_text("Wireless Mouse added to cart")

    page.get_by_role("link", name="Laptop Stand").click()
    expect(page.get_by_role("heading", level=1, name="Laptop Stand")).to_be_visible()
    page.get_by_role("button", name="Add to Cart").click()
    expect(cart_badge(page)).to_have_text("2")
    expect(toasts(page)).to_contain_text("Laptop Stand added to cart")


def test_a_failed_htmx_request_says_what_happened_and_what_to_do(page: Page, live_server, transactional_db, catalog):
    page.goto(live_server.url)
    Product.objects.filter(public_id="prod-002").update(is_active=False)  # withdrawn after the page rendered

    page.get_by_role("button", name="Add to Cart: Wireless Mouse").click()

    expect(toasts(page)).to_contain_text("That is no longer available. Reload the page to see what is.")
    expect(cart_badge(page)).to_have_text("0")
    expect(page.get_by_role("heading", level=1)).to_have_count(1)  # no error page swapped in

    page.context.set_offline(True)
    page.get_by_role("button", name="Add to Cart: Laptop Stand").click()
    expect(toasts(page)).to_contain_text("The shop could not be reached. Check your connection and try again.")
    page.context.set_offline(False)


def test_a_session_that_ended_while_an_order_page_polls_goes_to_the_sign_in_page(
    page: Page, live_server, no_worker, client, customer, place_order
):
    order = place_order(customer)  # no worker: it stays new, and its page keeps polling
    sign_in(page, live_server, client, customer)
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(order.number)

    page.context.clear_cookies()  # signed out in another tab

    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=%2Forders%2F" + str(order.pk) + "%2F$"))
    log_in_with_the_form(page, customer.email)
    expect(page).to_have_url(f"{live_server.url}/orders/{order.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(order.number)


def test_the_cart_shows_its_items_and_quantities_change_in_place(page: Page, live_server, transactional_db,
                                                                 catalog):
    add_to_cart_from_the_grid(page, live_server, "Wireless Mouse")
    header(page).get_by_role("link", name="Cart").click()

    expect(page.get_by_role("heading", level=1, name="Your cart")).to_be_visible()
    line = cart_line(page, "Wireless Mouse")
    expect(line).to_contain_text("$49.99 each")
    expect(line).to_contain_text("Quantity: 1")
    page.evaluate("window.stillTheSamePage = true")

    page.get_by_role("button", name="Increase quantity of Wireless Mouse").click()
    expect(line).to_contain_text("Quantity: 2")
    expect(line).to_contain_text("$99.98")
    expect(page.locator("#cart-total")).to_have_text("$99.98")
    expect(cart_badge(page)).to_have_text("2")

    page.get_by_role("button", name="Increase quantity of Wireless Mouse").click()
    expect(line).to_contain_text("Quantity: 3")
    page.get_by_role("button", name="Decrease quantity of Wireless Mouse").click()
    expect(line).to_contain_text("Quantity: 2")
    expect(cart_badge(page)).to_have_text("2")
    assert page.evaluate("window.stillTheSamePage") is True


def test_removing_the_last_item_leaves_an_empty_cart(page: Page, live_server, transactional_db, catalog):
    add_to_cart_from_the_grid(page, live_server, "Desk Mat")
    page.goto(f"{live_server.url}/cart/")

    page.get_by_role("button", name="Remove Desk Mat from cart").click()

    expect(page.get_by_role("heading", name="Your cart is empty")).to_be_visible()
    expect(cart_badge(page)).to_have_text("0")
    expect(toasts(page)).to_contain_text("Desk Mat removed from your cart")
    page.get_by_role("link", name="Browse the catalog").click()
    expect(page.get_by_role("heading", level=1, name="Catalog")).to_be_visible()


def test_quantities_stop_at_the_stock_left(page: Page, live_server, transactional_db, catalog):
    Product.objects.filter(public_id="prod-004").update(stock=2)
    add_to_cart_from_the_grid(page, live_server, "Laptop Stand")
    page.goto(f"{live_server.url}/cart/")

    page.get_by_role("button", name="Increase quantity of Laptop Stand").click()

    line = cart_line(page, "Laptop Stand")
    expect(line).to_contain_text("Quantity: 2")
    expect(line).to_contain_text("Only 2 Laptop Stand in stock")
    expect(page.get_by_role("button", name="Increase quantity of Laptop Stand")).to_be_disabled()


# --- checkout -----------------------------------------------------------------------------

def test_placing_an_order_shows_it_clears_the_cart_and_lists_it(page: Page, live_server, transactional_db,
                                                                client, customer, catalog):
    sign_in(page, live_server, client, customer)

    number = place_order_through_the_pages(page, live_server, "USB-C Hub")

    expect(toasts(page)).to_contain_text(f"Thank you! Order {number} has been placed.")
    expect(order_state(page)).not_to_be_empty()
    expect(page.get_by_role("region", name="Items")).to_contain_text("USB-C Hub")
    expect(page.get_by_role("region", name="Shipping address")).to_contain_text("Springfield, IL 62701")
    expect(cart_badge(page)).to_have_text("0")

    header(page).get_by_role("link", name="Orders").click()
    expect(page.get_by_role("heading", level=1, name="Your Orders")).to_be_visible()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"Order {number}"))
    expect(row).to_contain_text("$79.99")
    expect(row).to_contain_text("1 item")

    page.goto(f"{live_server.url}/cart/")
    expect(page.get_by_role("heading", name="Your cart is empty")).to_be_visible()


def test_checkout_errors_are_shown_next_to_the_fields(page: Page, live_server, transactional_db, client,
                                                     customer, catalog):
    sign_in(page, live_server, client, customer)
    add_to_cart_from_the_grid(page, live_server, "Desk Mat")
    page.goto(f"{live_server.url}/checkout/")

    fill_checkout(page, card="4242 4242 4242 4241", zip_code="ABC")
    page.get_by_role("button", name="Place order").click()

    expect(page.get_by_label("ZIP code")).to_have_accessible_description(re.compile("Enter a ZIP code like 12345"))
    expect(page.get_by_label("Card number")).to_have_accessible_description(re.compile("Enter a valid card number"))
    expect(page.get_by_label("Street address")).to_have_value("1 Market Street")
    assert Order.objects.count() == 0


def test_checkout_signed_out_goes_to_log_in_and_back(page: Page, live_server, transactional_db, customer, catalog):
    add_to_cart_from_the_grid(page, live_server, "Monitor Light Bar")
    page.goto(f"{live_server.url}/cart/")

    page.get_by_role("link", name="Proceed to checkout").click()

    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()
    log_in_with_the_form(page, "customer@example.com")
    expect(page).to_have_url(f"{live_server.url}/checkout/")
    expect(page.get_by_role("complementary", name="Order summary")).to_contain_text("Monitor Light Bar")
    fill_checkout(page)
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("heading", level=1, name=re.compile(r"^Order #"))).to_be_visible()
    assert Order.objects.get().owner == customer


# --- full flows ---------------------------------------------------------------------------

def test_register_then_order(page: Page, live_server, transactional_db, catalog):
    page.goto(live_server.url)
    header(page).get_by_role("link", name="Register").click()
    page.get_by_label("E-mail address").fill("grace@example.com")
    page.get_by_label("Full name").fill("Grace Hopper")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(header(page).get_by_role("button", name="Log out")).to_be_visible()

    number = place_order_through_the_pages(page, live_server, "Mechanical Keyboard")

    expect(order_state(page)).not_to_be_empty()
    header(page).get_by_role("link", name="Orders").click()
    expect(page.get_by_role("link", name=f"Order {number}")).to_be_visible()


def test_the_orders_page_asks_to_sign_in_and_comes_back(page: Page, live_server, transactional_db, customer):
    page.goto(f"{live_server.url}/orders/")

    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()
    log_in_with_the_form(page, "customer@example.com")

    expect(page).to_have_url(f"{live_server.url}/orders/")
    expect(page.get_by_role("heading", level=1, name="Your Orders")).to_be_visible()
    expect(page.get_by_text("No orders yet")).to_be_visible()


# --- the live order page (real worker) ----------------------------------------------------

def test_an_approved_card_is_delivered_with_every_stage_green(page: Page, live_server, qcluster, client,
                                                             customer, catalog):
    sign_in(page, live_server, client, customer)
    place_order_through_the_pages(page, live_server, "Wireless Mouse", card=CARD_APPROVE)
    page.evaluate("window.stillTheSamePage = true")

    expect(order_state(page)).to_have_text("Delivered", timeout=LIVE)
    always = [stage.label for stage in TIMELINE if not stage.when_reached]
    expect(timeline_stages(page)).to_have_count(len(always))
    for label in always:
        expect(stage(page, label)).to_contain_text("Completed")
        expect(stage(page, label)).to_have_class(re.compile(r"timeline__stage--done"))
    details = page.locator("#order-status")
    expect(details).to_contain_text("ending 4242")
    expect(details).to_contain_text("Tracking number")
    expect(details).to_contain_text("Delivered")
    expect(details).not_to_contain_text("Estimated delivery")
    # What the carrier said on the way, under the delivery stage.
    updates = stage(page, "Delivered").get_by_role("list", name="Tracking updates from the carrier")
    expect(updates.get_by_role("listitem")).to_have_count(3)
    for n, said in enumerate(("In transit", "Out for delivery", "Delivered")):
        expect(updates.get_by_role("listitem").nth(n)).to_contain_text(said)
    expect(page.get_by_role("button", name="Cancel order")).to_have_count(0)
    assert page.evaluate("window.stillTheSamePage") is True  # HTMX polling; no reload


def test_a_declined_card_shows_the_failed_payment_in_red(page: Page, live_server, qcluster, client, customer,
                                                         catalog):
    sign_in(page, live_server, client, customer)
    place_order_through_the_pages(page, live_server, "Desk Mat", card=CARD_DECLINE)
    page.evaluate("window.stillTheSamePage = true")

    expect(order_state(page)).to_have_text("Failed", timeout=LIVE)
    payment = stage(page, "Processing payment")
    expect(payment).to_have_class(re.compile(r"timeline__stage--failed"))
    expect(payment).to_contain_text("Failed")
    expect(payment).to_contain_text("Your bank declined the payment. Try another card or contact your bank")
    expect(payment.locator(".timeline__marker")).to_have_css("background-color", "rgb(198, 40, 40)")
    expect(stage(page, "Checking inventory")).to_contain_text("Completed")
    expect(stage(page, "Shipping")).to_contain_text("Not reached")
    assert page.evaluate("window.stillTheSamePage") is True


def test_a_label_that_keeps_failing_shows_the_refund(page: Page, live_server, qcluster, client, customer, catalog):
    sign_in(page, live_server, client, customer)
    place_order_through_the_pages(page, live_server, "Laptop Stand", card=CARD_APPROVE, zip_code="00500")
    page.evaluate("window.stillTheSamePage = true")

    expect(order_state(page)).to_have_text("Refunded", timeout=LIVE)
    expect(stage(page, "Shipping")).to_contain_text("The carrier could not create a label (ZIP 00500)")
    expect(stage(page, "Shipping")).to_have_class(re.compile(r"timeline__stage--failed"))
    expect(stage(page, "Refunded")).to_contain_text("$89.99 refunded")
    expect(page.locator("#order-status")).to_contain_text("Refunded in total: $89.99 of $89.99")
    assert page.evaluate("window.stillTheSamePage") is True


# --- cancelling ---------------------------------------------------------------------------

@pytest.fixture
def no_worker(live_server, transactional_db, settings, monkeypatch):
    """Orders wait in the queue: tasks go to the broker, on a queue no worker reads."""
    from django_q.conf import Conf

    settings.PIPELINE_TASKS_SYNC = False
    monkeypatch.setattr(Conf, "CLUSTER_NAME", f"parked-{uuid.uuid4().hex[:8]}")


def cancel_from_the_order_page(page: Page) -> None:
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel order").click()


def test_cancelling_a_new_order(page: Page, live_server, no_worker, client, customer, place_order):
    order = place_order(customer, {"prod-003": 2})
    stock = Product.objects.get(public_id="prod-003").stock
    sign_in(page, live_server, client, customer)
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    expect(order_state(page)).to_have_text("New")
    expect(stage(page, "Checking the address")).to_contain_text("In progress")

    cancel_from_the_order_page(page)

    expect(order_state(page)).to_have_text("Cancelled")
    expect(toasts(page)).to_contain_text(f"Order {order.number} has been cancelled.")
    expect(stage(page, "Cancelled")).to_contain_text("Cancelled by the customer")
    expect(page.get_by_role("button", name="Cancel order")).to_have_count(0)
    assert Product.objects.get(public_id="prod-003").stock == stock + 2


def test_cancelling_a_validated_order(page: Page, live_server, no_worker, client, customer, place_order):
    order = order_move(place_order(customer), "validated")
    sign_in(page, live_server, client, customer)
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    expect(order_state(page)).to_have_text("Validated")

    cancel_from_the_order_page(page)

    expect(order_state(page)).to_have_text("Cancelled")
    assert Order.objects.get(pk=order.pk).state == "cancelled"


def test_dismissing_the_confirmation_keeps_the_order(page: Page, live_server, no_worker, client, customer,
                                                    place_order):
    order = place_order(customer)
    sign_in(page, live_server, client, customer)
    page.goto(f"{live_server.url}/orders/{order.pk}/")

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Cancel order").click()

    expect(page.get_by_role("button", name="Cancel order")).to_be_visible()
    expect(order_state(page)).to_have_text("New")
    assert Order.objects.get(pk=order.pk).state == "new"


def test_there_is_no_cancel_button_once_the_order_moved_on(page: Page, live_server, sync_pipeline, client,
                                                          customer, place_order):
    order = place_order(customer, card=CARD_APPROVE)  # delivered at once (pipeline in-process)
    sign_in(page, live_server, client, customer)
    page.goto(f"{live_server.url}/orders/{order.pk}/")

    expect(order_state(page)).to_have_text("Delivered")
    expect(page.get_by_role("button", name="Cancel order")).to_have_count(0)


def test_another_customers_order_is_not_found(page: Page, live_server, transactional_db, client, customer,
                                             other_customer, place_order):
    order = place_order(other_customer)
    sign_in(page, live_server, client, customer)

    response = page.goto(f"{live_server.url}/orders/{order.pk}/")

    assert response.status == 404
    expect(page.get_by_text(str(order.number))).to_have_count(0)


# --- notifications ------------------------------------------------------------------------

def test_notifications_are_listed_and_marked_read(page: Page, live_server, sync_pipeline, client, customer,
                                                  place_order):
    order = place_order(customer, card=CARD_APPROVE)  # received, paid, shipped, delivered
    sign_in(page, live_server, client, customer)
    page.goto(live_server.url)

    notifications_link = header(page).get_by_role("link", name="Notifications")
    expect(notifications_link).to_contain_text("4")
    notifications_link.click()

    expect(page.get_by_role("heading", level=1, name="Notifications")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Order {order.number} delivered")).to_be_visible()
    page.get_by_role("button", name=f"Mark as read: Order {order.number} delivered").click()
    expect(page.get_by_text("3 unread", exact=True)).to_be_visible()

    page.get_by_role("button", name="Mark all as read").click()
    expect(page.get_by_text("You're all caught up.")).to_be_visible()
    expect(header(page).locator("#unread-count")).to_have_count(0)

    page.get_by_role("link", name=f"View order {order.number}").first.click()
    expect(page.get_by_role("heading", level=1, name=f"Order {order.number}")).to_be_visible()
