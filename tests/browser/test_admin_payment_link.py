"""A payment link from the admin, in real browsers against a real django-q2 worker (`qcluster`):
staff send it for an order whose card was declined, the customer opens it from their
notifications in their own browser, pays with another card, and the new order is delivered and
linked from both order pages; the same link opened again is refused."""
import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from orders.models import Order
from store.staff import shop_staff_group_sync
from tests.browser.test_storefront import LIVE, order_state
from tests.conftest import CARD_DECLINE, PASSWORD, wait_for

pytestmark = pytest.mark.browser


def customer_browser(browser: Browser, live_server, user):
    """A second browser (its own cookies) signed in as `user` with a session made by the test client."""
    web = Client()
    web.force_login(user)
    context = browser.new_context()
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": live_server.url,
                          "value": web.cookies[settings.SESSION_COOKIE_NAME].value}])
    return context


def test_staff_send_a_payment_link_and_the_customer_pays_with_another_card(
    page: Page, browser: Browser, live_server, qcluster, make_user, customer, place_order
):
    clerk = make_user("clerk@example.com", name="Cleo Clerk", is_staff=True)
    clerk.groups.add(shop_staff_group_sync())  # the group may change orders: the permission the link needs
    failed = place_order(customer, {"prod-001": 1, "prod-002": 2}, card=CARD_DECLINE)
    wait_for(lambda: Order.objects.get(pk=failed.pk).state == "failed", timeout=LIVE / 1000,
             message="the declined order failed")

    # Staff: the failed order's admin page, "Send payment link", and what it did.
    page.goto(f"{live_server.url}/admin/login/?next=/admin/orders/order/{failed.pk}/change/")
    page.get_by_label("E-mail address").fill(clerk.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("order-state")).to_have_text("Failed")
    page.get_by_role("button", name="Send payment link").click()
    expect(page.locator("ul.messagelist")).to_contain_text(
        f"A payment link for order {failed.number} goes by e-mail to {customer.email}")
    expect(page.locator("ul.messagelist")).to_contain_text("it works once, until")
    expect(page.get_by_test_id("order-state")).to_have_text("Failed")  # sending a link moves nothing
    expect(page.get_by_role("button", name="Send payment link")).to_be_visible()

    # The customer, in their own browser: the link is in their notifications.
    context = customer_browser(browser, live_server, customer)
    theirs = context.new_page()
    theirs.goto(f"{live_server.url}/notifications/")
    notice = theirs.get_by_role("listitem").filter(has_text=f"Complete your order {failed.number}")
    expect(notice).to_contain_text("no charge was made")
    link = notice.locator('a[href*="/orders/payment-link/"]')
    expect(link).to_be_visible()
    path = urlsplit(link.get_attribute("href")).path
    theirs.goto(f"{live_server.url}{path}")

    expect(theirs.get_by_role("heading", level=1, name="Checkout")).to_be_visible()
    summary = theirs.get_by_role("complementary", name="Order summary")
    expect(summary).to_contain_text("Mechanical Keyboard")
    expect(summary).to_contain_text("Wireless Mouse")
    expect(theirs.get_by_label("Street address")).to_have_value("1 Market Street")
    expect(theirs.get_by_label("City", exact=True)).to_have_value("Springfield")
    expect(theirs.get_by_label("State", exact=True)).to_have_value("IL")
    expect(theirs.get_by_label("ZIP code")).to_have_value("62701")
    theirs.get_by_label("Card number").fill("4242424242424242")
    theirs.get_by_role("button", name="Place order").click()

    heading = theirs.get_by_role("heading", level=1, name=re.compile(r"^Order #\d{6}$"))
    expect(heading).not_to_have_text(f"Order {failed.number}")
    expect(order_state(theirs)).to_have_text("Delivered", timeout=LIVE)
    new = Order.objects.get(retry_of=failed)
    expect(heading).to_have_text(f"Order {new.number}")
    expect(theirs.get_by_role("region", name="Related orders")).to_contain_text(f"Tries again order {failed.number}")

    # The failed order's customer page links to the new one.
    theirs.goto(f"{live_server.url}/orders/{failed.pk}/")
    related = theirs.get_by_role("region", name="Related orders")
    expect(related).to_contain_text(f"Tried again as order {new.number} (delivered)")
    related.get_by_role("link", name=new.number).click()
    expect(theirs.get_by_role("heading", level=1, name=f"Order {new.number}")).to_be_visible()

    # The same link again: refused, saying why, and nothing in the cart.
    theirs.goto(f"{live_server.url}{path}")
    expect(theirs.get_by_text(f"This payment link for order {failed.number} was already used.")).to_be_visible()
    expect(theirs.get_by_role("heading", level=1, name="Checkout")).not_to_be_visible()
    expect(theirs.locator("#cart-count")).to_have_text("0")
    context.close()

    # Staff: the failed order's admin page links to the new order.
    page.reload()
    page.get_by_role("link", name=new.number).first.click()
    expect(page).to_have_url(re.compile(rf"/admin/orders/order/{new.pk}/change/$"))
    expect(page.get_by_test_id("order-state")).to_have_text("Delivered")
    assert Order.objects.filter(state="delivered", retry_of=failed).count() == 1
