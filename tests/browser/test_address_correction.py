"""An address the carrier does not deliver to, in a real browser against a real django-q2
worker (`qcluster`): the order fails before any charge and asks for a corrected address, Try
again fills the checkout with the old one, the customer corrects the ZIP and the new order is
delivered."""
import re

import pytest
from playwright.sync_api import Page, expect

from orders.models import Next, Order
from providers.models import GatewayCall
from tests.browser.test_storefront import (
    LIVE,
    order_state,
    place_order_through_the_pages,
    shipping_options_for,
    sign_in,
    stage,
    toasts,
)
from tests.conftest import CARD_APPROVE

pytestmark = pytest.mark.browser


def test_an_undeliverable_address_is_corrected_through_try_again_and_delivered(
        page: Page, live_server, qcluster, client, customer, catalog):
    sign_in(page, live_server, client, customer)
    failed_number = place_order_through_the_pages(page, live_server, "Desk Mat", card=CARD_APPROVE, zip_code="00000")

    expect(order_state(page)).to_have_text("Failed", timeout=LIVE)
    address = stage(page, "Checking the address")
    expect(address).to_have_class(re.compile(r"timeline__stage--failed"))
    expect(address).to_contain_text("Undeliverable address (ZIP 00000)")
    expect(stage(page, "Processing payment")).to_contain_text("Not reached")
    expect(page.locator("#order-status")).to_contain_text("No charge was made.")
    failed = Order.objects.get(state="failed")
    assert not GatewayCall.objects.filter(order_id=failed.pk, gateway="payment").exists()

    expect(page.locator("#order-status")).to_contain_text(Next.CORRECT_ADDRESS.advice)
    expect(page.get_by_role("button", name="Try again")).to_have_count(0)  # not another card: the address
    page.get_by_role("button", name="Correct the address").click()

    expect(page.get_by_role("heading", level=1, name="Checkout")).to_be_visible()
    expect(toasts(page)).to_contain_text("No charge was made.")
    expect(toasts(page)).to_contain_text("correct the address to place it again")
    expect(page.get_by_label("Street address")).to_have_value("1 Market Street")
    expect(page.get_by_label("City", exact=True)).to_have_value("Springfield")
    expect(page.get_by_label("ZIP code")).to_have_value("00000")
    page.get_by_label("ZIP code").fill("62704")
    page.get_by_label("Card number").fill(CARD_APPROVE)  # leaving the ZIP code asks for its shipping options
    shipping_options_for(page, {"address": "1 Market Street", "city": "Springfield", "state": "IL", "zip": "62704"})
    page.get_by_role("button", name="Place order").click()

    heading = page.get_by_role("heading", level=1, name=re.compile(r"^Order #\d{6}$"))
    expect(heading).not_to_have_text(f"Order {failed_number}")
    expect(order_state(page)).to_have_text("Delivered", timeout=LIVE)
    expect(stage(page, "Checking the address")).to_contain_text("The carrier delivers to this address")
    expect(page.get_by_role("region", name="Related orders")).to_contain_text(f"Tries again order {failed_number}")
    corrected = Order.objects.get(retry_of=failed)
    assert (corrected.state, corrected.ship_zip) == ("delivered", "62704")
