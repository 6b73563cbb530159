"""Setting up an employee in a real browser: the owner invites a Refunds member from the Staff
page, who chooses a password from the e-mailed link, signs in, refunds an order and is refused
the products."""
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from playwright.sync_api import Page, expect

from catalog.models import Product
from orders.models import Order
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

NEW_PASSWORD = "Brand-New-Passw0rd"
AXE = Axe()
INVITE_LINK = re.compile(r"https?://[^/\s]+(/accounts/staff/invitation/[^/\s]+/[^/\s]+/)")


def sign_in(page: Page, url: str, email: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_an_owner_invites_a_refunds_member_who_refunds_and_cannot_change_products(
    page: Page, live_server, staff_user, customer, place_order
):
    order = place_order(customer, {"prod-001": 2})  # committed: the in-process pipeline delivers it
    assert Order.objects.get(pk=order.pk).state == "delivered"

    sign_in(page, f"{live_server.url}/admin/login/?next=/admin/", staff_user.email, PASSWORD)
    page.get_by_role("link", name="Staff", exact=True).click()
    page.get_by_role("link", name="Add staff member").click()
    page.get_by_label("E-mail address").fill("rita@example.com")
    page.get_by_label("Full name").fill("Rita Refunds")
    page.get_by_role("checkbox", name=re.compile(r"^Refunds:")).check()
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.get_by_text("rita@example.com is invited as Refunds")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="rita@example.com")).to_contain_text(
        "Invited: has not chosen a password yet")
    (message,) = [message for message in mail.outbox if message.to == ["rita@example.com"]]
    link = INVITE_LINK.search(message.body).group(1)

    page.context.clear_cookies()  # the invited person, in their own browser
    page.goto(f"{live_server.url}{link}")
    expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    assert AXE.run(page).violations_count == 0, AXE.run(page).generate_report()
    page.get_by_label(re.compile(r"^New password:?$")).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Your password is set")).to_be_visible()
    assert AXE.run(page).violations_count == 0, AXE.run(page).generate_report()
    page.get_by_role("link", name="Sign in to the admin").click()
    page.get_by_label("E-mail address").fill("rita@example.com")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name="Run the shop")).to_be_visible()

    page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    refund_form = page.locator("form.order-refund")
    refund_form.get_by_label("Mechanical Keyboard").fill("1")
    refund_form.get_by_label("Reason").fill("Returned unopened")
    refund_form.get_by_role("button", name="Refund…").click()
    page.get_by_role("button", name="Yes, refund $149.99").click()
    expect(page.get_by_text(f"Refunded $149.99 on order {order.number}")).to_be_visible()

    product = Product.objects.get(public_id="prod-001")
    refused = page.goto(f"{live_server.url}/admin/catalog/product/{product.pk}/change/")
    assert refused.status == 403
    page.goto(f"{live_server.url}/admin/")
    expect(page.get_by_role("link", name="Products")).to_have_count(0)
    expect(page.get_by_role("link", name="Staff", exact=True)).to_have_count(0)

    page.goto(f"{live_server.url}{link}")  # the link again, once used
    expect(page.get_by_role("heading", name="This invitation was already used")).to_be_visible()
    assert AXE.run(page).violations_count == 0, AXE.run(page).generate_report()
