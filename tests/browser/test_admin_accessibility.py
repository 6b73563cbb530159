"""The admin pages staff use pass axe-core's checks (WCAG 2.x A and AA, and axe's best
practices), as the storefront does, seen by a Shop staff member who may also refund; and the
order page fits a desktop window and a phone without scrolling sideways."""
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import Page, expect

from accounts.staff import staff_invite
from catalog.models import Category
from orders.models import Order, Refund
from orders.services import refund_create
from orders.services.notes import staff_note_add
from store.request_context import request_id_var
from store.staff import shop_staff_group_sync
from tests.browser.test_accessibility import AXE, VIEWPORTS
from tests.conftest import CARD_DECLINE, PASSWORD
from tests.review_rules import rule_create

pytestmark = pytest.mark.browser


@pytest.fixture
def refunds_staff(make_user):
    """A Shop staff member who may refund too: every page below is theirs to see."""
    user = make_user("rita@example.com", name="Rita Refunds", is_staff=True)
    user.groups.add(shop_staff_group_sync())
    user.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="refund_order"))
    return user


# The longest request id a client may send (X-Request-ID, store.request_context), with nowhere to break.
LONG_REQUEST_ID = "client-" + "0123456789abcdef" * 7 + "012345678"


@pytest.fixture
def orders_of_every_kind(customer, place_order, refunds_staff):
    """A delivered order refunded in part (with a note), a declined one and one held for approval,
    all placed by a client that sent the longest request id: the timelines show it."""
    token = request_id_var.set(LONG_REQUEST_ID)
    try:
        delivered = place_order(customer, {"prod-001": 2, "prod-002": 3})
        assert Order.objects.get(pk=delivered.pk).state == "delivered"
        refund_create(order=Order.objects.get(pk=delivered.pk), amount=Decimal("10.00"), reason="Scratched box",
                      actor=refunds_staff)
        staff_note_add(author=refunds_staff, text="Called the customer about the box.", order=delivered)
        declined = place_order(customer, card=CARD_DECLINE)
        rule_create("Orders of $1,000 or more", "total", "gte", "1000")
        held = place_order(customer, {"prod-001": 7})
    finally:
        request_id_var.reset(token)
    assert delivered.events.filter(request_id=LONG_REQUEST_ID).exists()
    return {"delivered": Order.objects.get(pk=delivered.pk), "declined": declined,
            "held": Order.objects.get(pk=held.pk)}


def admin_sign_in(page: Page, live_server, user) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("E-mail address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name="Run the shop")).to_be_visible()


def violations_on(page: Page, path: str, base_url: str) -> str:
    """axe's report for one admin page, or "" when it found nothing."""
    response = page.goto(base_url + path)
    assert response is not None and response.status == 200, f"{path}: {response and response.status}"
    expect(page.locator("#content")).to_be_visible()
    results = AXE.run(page)
    return "" if results.violations_count == 0 else f"{path} ({page.url}):\n{results.generate_report()}\n"


def admin_paths(orders: dict[str, Order], customer) -> list[str]:
    delivered = orders["delivered"]
    category = Category.objects.order_by("pk").first()
    return [
        "/admin/",
        "/admin/orders/order/",
        "/admin/orders/order/?q=" + delivered.number,
        "/admin/orders/orderawaitingapproval/",
        "/admin/orders/order/attention/",
        "/admin/orders/order/report/",
        "/admin/orders/customer/",
        f"/admin/orders/customer/{customer.pk}/change/",
        "/admin/orders/refund/",
        f"/admin/orders/refund/{Refund.objects.get(order=delivered).pk}/change/",
        "/admin/catalog/product/",
        f"/admin/catalog/product/{delivered.lines.first().product_id}/change/",
        "/admin/catalog/category/",
        f"/admin/catalog/category/{category.pk}/change/",
        "/admin/notifications/notification/",
        "/admin/providers/gatewaycall/",
        "/admin/workflows/reviewrule/",
        "/admin/workflows/workflowversion/",
        "/admin/auditlog/logentry/",
        f"/admin/orders/order/{delivered.pk}/change/",
        f"/admin/orders/order/{orders['declined'].pk}/change/",
        f"/admin/orders/order/{orders['held'].pk}/change/",
        f"/admin/orders/order/{delivered.pk}/trace/",
    ]


def test_the_admin_pages_staff_use_have_no_axe_violations(page: Page, live_server, customer, refunds_staff,
                                                         orders_of_every_kind):
    page.set_viewport_size(VIEWPORTS["desktop"])
    admin_sign_in(page, live_server, refunds_staff)
    report = "".join(violations_on(page, path, live_server.url)
                     for path in admin_paths(orders_of_every_kind, customer))
    assert not report, report

    # The confirmation asked before rejecting a held order.
    page.goto(f"{live_server.url}/admin/orders/order/{orders_of_every_kind['held'].pk}/change/")
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Are you sure?")
    results = AXE.run(page)
    assert results.violations_count == 0, results.generate_report()

    # The order list's search box is found by its label, as a screen reader names it.
    page.goto(f"{live_server.url}/admin/orders/order/")
    page.get_by_label("Search orders").fill(orders_of_every_kind["declined"].number)
    page.keyboard.press("Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)


def test_the_order_pages_have_no_axe_violations_on_a_phone(page: Page, live_server, customer, refunds_staff,
                                                          orders_of_every_kind):
    page.set_viewport_size(VIEWPORTS["phone"])
    admin_sign_in(page, live_server, refunds_staff)
    paths = ["/admin/", "/admin/orders/order/",
             *(f"/admin/orders/order/{order.pk}/change/" for order in orders_of_every_kind.values())]
    report = "".join(violations_on(page, path, live_server.url) for path in paths)
    assert not report, report


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_order_page_fits_the_window(page: Page, live_server, customer, refunds_staff, orders_of_every_kind,
                                        viewport):
    page.set_viewport_size(VIEWPORTS[viewport])
    admin_sign_in(page, live_server, refunds_staff)
    for order in orders_of_every_kind.values():
        page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
        expect(page.get_by_test_id("order-state")).to_be_visible()
        widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"order {order.number} is {widths[0]} px wide in a {widths[1]} px window"


def test_the_staff_pages_the_refusal_and_the_refund_confirmation_have_no_axe_violations(
        page: Page, live_server, customer, staff_user, refunds_staff, orders_of_every_kind):
    """The owners' Staff list, invitation and change pages, as a superuser; the 403 page anyone
    else gets there and the refund's confirmation page, as a Shop staff member who may refund."""
    member = staff_invite(email="pending@example.com", name="Pat Pending", roles=[Group.objects.get(name="Refunds")])
    page.set_viewport_size(VIEWPORTS["desktop"])
    admin_sign_in(page, live_server, staff_user)
    report = "".join(violations_on(page, path, live_server.url) for path in [
        "/admin/accounts/staffmember/", "/admin/accounts/staffmember/add/",
        f"/admin/accounts/staffmember/{member.pk}/change/"])
    # The invitation form answered with its errors (an address with an account, no role).
    page.goto(f"{live_server.url}/admin/accounts/staffmember/add/")
    page.get_by_label("E-mail address").fill(customer.email)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".errornote")).to_be_visible()
    results = AXE.run(page)
    report += "" if results.violations_count == 0 else f"invitation with errors:\n{results.generate_report()}\n"
    page.context.clear_cookies()

    admin_sign_in(page, live_server, refunds_staff)
    refused = page.goto(f"{live_server.url}/admin/accounts/staffmember/")
    assert refused is not None and refused.status == 403
    results = AXE.run(page)
    report += "" if results.violations_count == 0 else f"403 refusal:\n{results.generate_report()}\n"
    delivered = orders_of_every_kind["delivered"]
    page.goto(f"{live_server.url}/admin/orders/order/{delivered.pk}/change/")
    refund_form = page.locator("form.order-refund")
    refund_form.get_by_label("Wireless Mouse").fill("1")
    refund_form.get_by_label("Reason").fill("Arrived broken")
    refund_form.get_by_role("button", name="Refund…").click()
    expect(page.get_by_test_id("refund-confirmation")).to_be_visible()
    results = AXE.run(page)
    report += "" if results.violations_count == 0 else f"refund confirmation:\n{results.generate_report()}\n"
    assert not report, report
