"""The orders report in a real browser: its chart of the days is one named, described image that
fits the window, on a desktop and on a phone, and axe finds nothing in it or in the tables."""
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import Page, expect

from orders.models import Order
from store.staff import shop_staff_group_sync
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_report_charts_the_days_above_their_table(page: Page, live_server, sync_pipeline, make_user, customer,
                                                      place_order, viewport):
    clerk = make_user("clerk@example.com", name="Cleo Clerk", is_staff=True)
    clerk.groups.add(shop_staff_group_sync())
    big = place_order(customer, {"prod-001": 7})  # $1,049.93 today
    small = place_order(customer, {"prod-002": 1})  # $49.99, three days ago
    assert set(Order.objects.values_list("state", flat=True)) == {"delivered"}
    Order.objects.filter(pk=small.pk).update(created_at=timezone.now() - timedelta(days=3))
    page.set_viewport_size(VIEWPORTS[viewport])

    page.goto(f"{live_server.url}/admin/login/?next=/admin/orders/order/report/")
    page.get_by_label("E-mail address").fill(clerk.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    chart = page.get_by_role("img", name="Revenue and orders per day")
    expect(chart).to_be_visible()
    expect(chart).to_have_accessible_description(
        f"Bars for each of the 30 days from {(timezone.localdate() - timedelta(days=29)):%Y-%m-%d} to "
        f"{timezone.localdate():%Y-%m-%d}: revenue above, orders placed below. In all 2 orders and $1,099.92 "
        f"revenue. Busiest day: {big.created_at:%Y-%m-%d}, 1 order and $1,049.93. 28 days without orders. "
        "The table below gives each day's figures.")
    expect(chart.locator("rect")).to_have_count(4)
    # Whole on a desktop; on a phone at a readable size, scrolling sideways in its own box.
    box = page.locator(".order-report__chart").bounding_box()
    assert box["x"] + box["width"] <= VIEWPORTS[viewport]["width"] and chart.bounding_box()["height"] > 200
    days = page.get_by_role("table").filter(has_text="Per day")
    expect(days.get_by_role("row").filter(has_text=f"{big.created_at:%Y-%m-%d}")).to_contain_text("$1,049.93")
    expect(days.get_by_role("row").filter(has_text="No orders on these")).to_have_count(2)
    assert chart.bounding_box()["y"] < days.bounding_box()["y"]  # the table is under the chart

    # The chart and the tables (the admin's own chrome is checked with the admin's pages).
    results = Axe().run(page, context={"include": [[".order-report__chart"], ['[aria-label="Per day"]'], [".order-report__tables"]]})
    assert results.violations_count == 0, results.generate_report()
    page.screenshot(path=f"/tmp/report-{viewport}.png", full_page=True)
