"""A declined card, then "Try again" with another card, in a real browser against a real
django-q2 worker (`qcluster`): the failed order says no charge was made and never "placed",
Try again refills the cart and the address, and the new order is delivered and linked."""
import re

import pytest
from playwright.sync_api import Page, expect

from orders.models import Order
from tests.browser.test_storefront import LIVE, order_state, place_order_through_the_pages, sign_in, toasts
from tests.conftest import CARD_APPROVE, CARD_DECLINE

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
