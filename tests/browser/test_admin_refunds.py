"""A refund of one line's units back to stock from the admin's order page, in a real browser."""
import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import Page, expect

from catalog.models import Product
from orders.models import Order
from store.staff import shop_staff_group_sync
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_staff_refund_one_line_back_to_stock(page: Page, live_server, make_user, customer, place_order):
    refunder = make_user("refunds@example.com", name="Rita Refunds", is_staff=True)
    refunder.groups.add(shop_staff_group_sync())
    refunder.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="refund_order"))
    order = place_order(customer, {"prod-001": 2, "prod-002": 3})  # committed: the in-process pipeline delivers it
    assert Order.objects.get(pk=order.pk).state == "delivered"
    keyboards = Product.objects.get(public_id="prod-001").stock

    page.goto(f"{live_server.url}/admin/login/?next=/admin/orders/order/{order.pk}/change/")
    page.get_by_label("E-mail address").fill(refunder.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    refund_form = page.locator("form.order-refund")
    refund_form.get_by_label("Mechanical Keyboard").fill("1")
    refund_form.get_by_label("Return these units to stock").check()
    refund_form.get_by_label("Reason").fill("Returned unopened")
    page.screenshot(path="/tmp/refunds-admin-form.png", full_page=True)
    refund_form.get_by_role("button", name="Refund").click()

    expect(page.get_by_text(f"Refunded $149.99 on order {order.number}")).to_be_visible()
    expect(page.get_by_text("1 × Mechanical Keyboard (back to stock)")).to_be_visible()
    assert Product.objects.get(public_id="prod-001").stock == keyboards + 1
