"""The admin in a real browser: a Shop staff member signs in, approves a held order from the
approval queue, and watches a real django-q2 worker take it to delivered."""
import re

import pytest
from playwright.sync_api import Page, expect

from orders.models import Order
from store.staff import shop_staff_group_sync
from tests.conftest import CARD_APPROVE, PASSWORD, wait_for
from tests.review_rules import rule_create

pytestmark = pytest.mark.browser


def test_staff_approve_a_held_order_from_the_queue_and_see_it_delivered(
    page: Page, live_server, qcluster, make_user, customer, place_order
):
    clerk = make_user("clerk@example.com", name="Cleo Clerk", is_staff=True)
    clerk.groups.add(shop_staff_group_sync())
    rule_create("Orders of $1,000 or more", "total", "gte", "1000")
    order = place_order(customer, {"prod-001": 7}, card=CARD_APPROVE)  # 7 × 149.99 = 1049.93
    wait_for(lambda: Order.objects.get(pk=order.pk).state == "awaiting_approval", timeout=60,
             message=f"order {order.number} to be held for approval")

    page.goto(f"{live_server.url}/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))
    page.get_by_label("E-mail address").fill(clerk.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", level=1, name="Run the shop")).to_be_visible()
    page.get_by_label("Awaiting approval").get_by_role("link", name="1 order").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Approval queue")
    row = page.get_by_role("row").filter(has_text=order.number)
    expect(row).to_contain_text("Orders of $1,000 or more")
    expect(row).to_contain_text("$1,049.93")
    row.get_by_role("button", name=f"Approve order {order.number}").click()

    expect(page.get_by_text(f"Order {order.number} approved: it is now processing payment.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=order.number)).to_have_count(0)

    page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    state = page.get_by_test_id("order-state")
    for _ in range(60):  # the worker delivers within seconds; reload until the page says so
        try:
            expect(state).to_have_text("Delivered", timeout=1_000)
            break
        except AssertionError:
            page.reload()
    expect(state).to_have_text("Delivered")
    timeline = page.get_by_role("table").filter(has_text="Delivered (Shipped → Delivered)")
    expect(timeline.get_by_role("row").filter(has_text="Approve (Awaiting approval → Processing payment)")
           ).to_contain_text("Staff clerk@example.com")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)


def test_staff_reject_a_held_order_with_a_note_after_confirming(page: Page, live_server, make_user, customer,
                                                                  place_order):
    clerk = make_user("clerk@example.com", name="Cleo Clerk", is_staff=True)
    clerk.groups.add(shop_staff_group_sync())
    rule_create("Orders of $1,000 or more", "total", "gte", "1000")
    order = place_order(customer, {"prod-001": 7}, card=CARD_APPROVE)
    wait_for(lambda: Order.objects.get(pk=order.pk).state == "awaiting_approval", timeout=60,
             message=f"order {order.number} to be held for approval")

    page.goto(f"{live_server.url}/admin/login/?next=/admin/orders/order/{order.pk}/change/")
    page.get_by_label("E-mail address").fill(clerk.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Reject").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Are you sure?")
    expect(page.get_by_role("row").filter(has_text=order.number)).to_contain_text("Awaiting approval")
    assert Order.objects.get(pk=order.pk).state == "awaiting_approval"  # asking changed nothing
    page.get_by_label("Internal note").fill("Suspicious: 20 light bars to a new account")
    page.get_by_label("Message to the customer").fill("Please call us to confirm your address.")
    page.get_by_role("button", name="Yes, reject").click()

    expect(page.get_by_text(f"Order {order.number} rejected: it is now cancelled.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Reject (Awaiting approval → Cancelled)")).to_contain_text(
        "internal note (staff only): “Suspicious: 20 light bars to a new account”")
    sent = page.get_by_role("table").filter(has_text="Read at")  # the notifications sent to the customer
    expect(sent).to_contain_text(f"Order {order.number} cancelled")
    expect(sent).not_to_contain_text("Suspicious")
    order = Order.objects.get(pk=order.pk)
    assert (order.state, order.failure_reason) == ("cancelled", "Please call us to confirm your address.")
