"""Refunds from the admin's order page, in a real browser: the Amount follows the units chosen,
a confirmation page says what the refund does before it is made (with and without script),
and a staff member without the refund permission reads which permission that is."""
import re

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import Page, expect

from catalog.models import Product
from orders.models import Order, Refund
from store.staff import shop_staff_group_sync
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

ITEMS = {"prod-001": 2, "prod-002": 3}  # 2 × Mechanical Keyboard ($149.99), 3 × Wireless Mouse ($49.99)


@pytest.fixture
def delivered(customer, place_order):
    order = place_order(customer, ITEMS)  # committed: the in-process pipeline delivers it
    assert Order.objects.get(pk=order.pk).state == "delivered"
    return Order.objects.get(pk=order.pk)


def staff(make_user, *, refunds: bool):
    user = make_user("refunds@example.com" if refunds else "clerk@example.com", name="Rita Refunds",
                     is_staff=True)
    user.groups.add(shop_staff_group_sync())
    if refunds:
        user.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="refund_order"))
    return user


def sign_in(page: Page, live_server, user, order: Order) -> None:
    page.goto(f"{live_server.url}/admin/login/?next=/admin/orders/order/{order.pk}/change/")
    page.get_by_label("E-mail address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_staff_refund_one_line_back_to_stock(page: Page, live_server, make_user, delivered):
    refused = []  # what the Content-Security-Policy blocked (an inline script would be)
    page.on("console", lambda message: refused.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    mice = Product.objects.get(public_id="prod-002").stock
    sign_in(page, live_server, staff(make_user, refunds=True), delivered)

    expect(page.get_by_test_id("order-actions-heading")).to_have_text("What you can do from “Delivered”: Refund")
    refund_form = page.locator("form.order-refund")
    amount = refund_form.get_by_label("Amount (USD)")
    expect(amount).to_have_value("449.95")
    refund_form.get_by_label("Wireless Mouse").fill("1")
    expect(amount).to_have_value("49.99")
    refund_form.get_by_label("Mechanical Keyboard").fill("1")
    expect(amount).to_have_value("199.98")
    refund_form.get_by_label("Mechanical Keyboard").fill("0")
    expect(amount).to_have_value("49.99")
    refund_form.get_by_label("Return these units to stock").check()
    refund_form.get_by_label("Reason").fill("Arrived broken")
    page.screenshot(path="/tmp/refunds-admin-form.png", full_page=True)
    refund_form.get_by_role("button", name="Refund…").click()

    # Nothing has moved yet: the confirmation says what will.
    confirmation = page.get_by_test_id("refund-confirmation")
    expect(page.get_by_role("heading", name=f"Refund $49.99 on order {delivered.number}?")).to_be_visible()
    expect(confirmation.get_by_test_id("refund-amount")).to_contain_text(
        f"pay back $49.99 to the customer's card ({delivered.owner.email})")
    expect(confirmation.get_by_role("row", name=re.compile("Wireless Mouse"))).to_have_text(
        re.compile(r"Wireless Mouse\s*1\s*\$49\.99\s*back to stock"))
    expect(confirmation.get_by_test_id("refund-notice")).to_contain_text(
        f"Partial refund for order {delivered.number} — We refunded $49.99 for order {delivered.number}: "
        "1 × Wireless Mouse.")
    expect(confirmation.get_by_test_id("refund-notice")).to_contain_text("Arrived broken")
    page.screenshot(path="/tmp/refunds-admin-confirmation.png", full_page=True)
    assert not Refund.objects.exists()

    page.get_by_role("button", name="Yes, refund $49.99").click()

    expect(page.get_by_text(f"Refunded $49.99 on order {delivered.number} for 1 × Wireless Mouse, "
                            "returned to stock ($399.96 left to refund).")).to_be_visible()
    expect(page.get_by_text("1 × Wireless Mouse (back to stock)")).to_be_visible()
    assert Product.objects.get(public_id="prod-002").stock == mice + 1
    assert Order.objects.get(pk=delivered.pk).refunded_amount == Refund.objects.get().amount
    assert refused == []


def test_without_script_the_confirmation_shows_the_units_price(browser, live_server, make_user, delivered):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, live_server, staff(make_user, refunds=True), delivered)

    refund_form = page.locator("form.order-refund")
    refund_form.get_by_label("Mechanical Keyboard").fill("1")
    expect(refund_form.get_by_label("Amount (USD)")).to_have_value("449.95")  # no script: the page cannot follow
    refund_form.get_by_label("Reason").fill("Scratched")
    refund_form.get_by_role("button", name="Refund…").click()

    expect(page.get_by_role("heading", name=f"Refund $149.99 on order {delivered.number}?")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Mechanical Keyboard"))).to_contain_text("not back to stock")
    page.get_by_role("button", name="Yes, refund $149.99").click()

    expect(page.get_by_text(f"Refunded $149.99 on order {delivered.number} for 1 × Mechanical Keyboard "
                            "($299.96 left to refund).")).to_be_visible()
    context.close()


def test_staff_without_the_refund_permission_read_which_one(page: Page, live_server, make_user, delivered):
    sign_in(page, live_server, staff(make_user, refunds=False), delivered)

    expect(page.get_by_test_id("order-actions-heading")).to_have_text("Nothing you can do from “Delivered”")
    expect(page.get_by_test_id("order-actions-missing")).to_have_text(
        "To refund orders you need the permission “Can refund orders” (orders.refund_order), which a superuser "
        "(one of the shop's owners) can grant you with the role “Refunds”.")
    expect(page.locator("form.order-refund")).to_have_count(0)


def test_on_a_phone_the_confirmation_fits_a_long_customer_address(page: Page, live_server, make_user, place_order):
    long_email = "a.very.long.customer.local.part.of.sixty.four.characters.xxxxxx@" + "subdomain-with-a-long-name." * 3 \
        + "example.com"
    order = place_order(make_user(long_email, name="Casey Long"), {"prod-002": 1})
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, staff(make_user, refunds=True), order)

    refund_form = page.locator("form.order-refund")
    refund_form.get_by_label("Reason").fill("Arrived broken")
    refund_form.get_by_role("button", name="Refund…").click()

    expect(page.get_by_test_id("refund-amount")).to_contain_text(long_email)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
