"""The customer page in a real browser: a Shop staff member finds a customer by e-mail, sees
their orders and spend, writes notes on the customer and on an order, and the customer never
sees them (their order page, the API, their e-mails)."""
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from notifications.models import Notification
from orders.models import Order, StaffNote
from orders.services import refund_create
from store.staff import shop_staff_group_sync
from tests.conftest import CARD_APPROVE, CARD_DECLINE, PASSWORD, wait_for

pytestmark = pytest.mark.browser

CUSTOMER_NOTE = "Prefers phone calls; VIP since the 2025 launch"
ORDER_NOTE = "Box was dented: refunded 49.98 as a goodwill gesture"


def test_staff_find_a_customer_see_their_spend_and_add_notes_the_customer_never_sees(
    page: Page, browser: Browser, live_server, make_user, customer, other_customer, place_order, jwt_client
):
    clerk = make_user("clerk@example.com", name="Cleo Clerk", is_staff=True)
    clerk.groups.add(shop_staff_group_sync())
    delivered = place_order(customer, {"prod-001": 2}, card=CARD_APPROVE)  # 299.98
    declined = place_order(customer, {"prod-002": 1}, card=CARD_DECLINE)  # 49.99, never charged
    place_order(other_customer, {"prod-003": 1}, card=CARD_APPROVE)
    wait_for(lambda: Order.objects.get(pk=delivered.pk).state == "delivered", message="the first order delivered")
    wait_for(lambda: Order.objects.get(pk=declined.pk).state == "failed", message="the declined order failed")
    refund_create(order=Order.objects.get(pk=delivered.pk), amount=Decimal("49.98"), reason="Dented box",
                  actor=None)
    emails_before, notifications_before = len(mail.outbox), Notification.objects.count()
    assert emails_before > 0  # the customer's order e-mails: the outbox is watched

    # Sign in and find the customer by e-mail among the customers.
    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("E-mail address").fill(clerk.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Customers").click()
    page.locator("#searchbar").fill("customer@example.com")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("250.00")
    rows.get_by_role("link", name="customer@example.com").click()

    # The customer page: orders with states and totals, spend, age, addresses, declined payments.
    expect(page.get_by_role("heading", level=1)).to_have_text("Customer Casey Customer")
    expect(page.get_by_test_id("lifetime-spend")).to_have_text("$250.00")
    expect(page.get_by_test_id("paid")).to_have_text("$299.98")
    expect(page.get_by_test_id("refunded")).to_have_text("$49.98")
    expect(page.get_by_test_id("order-count")).to_have_text("2")
    expect(page.get_by_test_id("account-age")).to_contain_text("(0 days)")
    orders = page.get_by_role("region", name="Orders")
    expect(orders.get_by_role("row").filter(has_text=delivered.number)).to_contain_text("Delivered")
    expect(orders.get_by_role("row").filter(has_text=delivered.number)).to_contain_text("$299.98")
    expect(orders.get_by_role("row").filter(has_text=declined.number)).to_contain_text("Failed")
    expect(page.get_by_role("region", name="Declined payments").get_by_role("row").filter(
        has_text=declined.number)).to_contain_text("3")  # the first try and the pipeline's two retries
    expect(page.get_by_role("region", name="Shipping addresses used")).to_contain_text(
        "1 Market Street, Springfield, IL 62701")

    # A note on the customer.
    page.get_by_label("Internal note").fill(CUSTOMER_NOTE)
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text("Note added on Casey Customer. Staff only: the customer never sees it.")).to_be_visible()
    notes = page.get_by_test_id("staff-notes")
    expect(notes).to_contain_text(CUSTOMER_NOTE)
    expect(notes).to_contain_text("clerk@example.com")

    # To the order, a note there, and back through the customer's link.
    orders.get_by_role("link", name=delivered.number).click()
    expect(page.get_by_test_id("order-state")).to_have_text("Delivered")
    page.get_by_label("Internal note").fill(ORDER_NOTE)
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text(f"Note added on order {delivered.number}.")).to_be_visible()
    expect(page.get_by_test_id("staff-notes")).to_contain_text(ORDER_NOTE)
    page.get_by_role("link", name="Casey Customer <customer@example.com>").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Customer Casey Customer")
    notes = page.get_by_test_id("staff-notes")
    expect(notes.get_by_role("listitem")).to_have_count(2)
    expect(notes.get_by_role("listitem").first).to_contain_text(ORDER_NOTE)  # newest first
    expect(notes.get_by_role("listitem").first).to_contain_text(delivered.number)
    assert StaffNote.objects.count() == 2

    # The customer: their order page in their own browser, the API, their e-mails.
    customer_web = Client()
    customer_web.force_login(customer)
    context = browser.new_context()
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": live_server.url,
                          "value": customer_web.cookies[settings.SESSION_COOKIE_NAME].value}])
    theirs = context.new_page()
    theirs.goto(f"{live_server.url}/orders/{delivered.pk}/")
    expect(theirs.get_by_role("heading", level=1)).to_contain_text(re.compile(r"Order"))
    body = theirs.locator("body")
    for text in (CUSTOMER_NOTE, ORDER_NOTE, "Staff notes"):
        expect(body).not_to_contain_text(text)
    context.close()
    api = jwt_client(customer)
    for response in (api.get(f"/api/orders/{delivered.pk}"), api.get("/api/orders")):
        assert response.status_code == 200
        assert CUSTOMER_NOTE not in response.content.decode() and ORDER_NOTE not in response.content.decode()
    assert len(mail.outbox) == emails_before  # nothing was sent for the notes
    assert Notification.objects.count() == notifications_before
    assert not any(CUSTOMER_NOTE in n.body or ORDER_NOTE in n.body for n in Notification.objects.all())
    assert all(CUSTOMER_NOTE not in m.body and ORDER_NOTE not in m.body for m in mail.outbox)
