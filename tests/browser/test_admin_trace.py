"""An order's page and its Trace page in a real browser, at 1,280 px and on a phone: staff reach the
trace from the order, read each provider call with its latency and key, and neither page is
wider than the window, however long the keys, references, request ids and e-mails."""
from decimal import Decimal

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from orders.models import Order
from orders.services import refund_create, staff_note_add
from store.request_context import request_id_var
from tests.conftest import PASSWORD
from tests.payment_events import CARD_PENDING, deliver, event_about, event_for
from workflows.models import Hold

pytestmark = pytest.mark.browser

WINDOW = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LONG_REQUEST_ID = "checkout-" + "a1b2c3d4" * 14  # 121 characters, none a place to break


def overflow(page: Page) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def timeline_beyond_window(page: Page) -> int:
    """How many pixels the order page's timeline table reaches past the window (0: all of it in view)."""
    return page.evaluate("Math.max(0, Math.ceil(document.querySelector('#events-group table').getBoundingClientRect()"
                         ".right - document.documentElement.clientWidth))")


@pytest.fixture
def staff(make_user):
    return make_user("a.very.long.staff.member.name@an-unusually-long-domain.example.com", name="Sam Staff",
                     is_staff=True, is_superuser=True)


@pytest.fixture
def busy_order(make_user, place_order, staff):
    """A 3-D Secure order, placed by a request with a long id, settled by the provider's callback
    after another callback was ignored, then part refunded and noted by staff: every kind of entry."""
    shopper = make_user("a.very.long.customer.name.for.the.trace@an-unusually-long-domain.example.com")
    token = request_id_var.set(LONG_REQUEST_ID)
    try:
        order = place_order(shopper, {"prod-001": 1, "prod-002": 2}, card=CARD_PENDING)
    finally:
        request_id_var.reset(token)
    web = Client()
    deliver(web, event_about(order.pk, key=f"order-{order.pk}-charge-9", reference="txn_" + "f" * 40))
    deliver(web, event_for(order.pk))
    order = Order.objects.get(pk=order.pk)
    assert order.state == "delivered"
    refund_create(order=order, amount=Decimal("10.00"), reason="Box arrived dented", actor=staff)
    staff_note_add(author=staff, text="Customer asked for the invoice by post " * 5, order=order)
    return order


@pytest.mark.parametrize("viewport", [WINDOW, PHONE], ids=["1280px", "phone"])
def test_the_order_page_and_its_trace_fit_the_window(page: Page, live_server, staff, busy_order, viewport):
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/orders/order/{busy_order.pk}/change/")
    page.get_by_label("E-mail address").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_test_id("order-state")).to_have_text("Delivered")
    expect(page.get_by_role("table").filter(has_text="Delivered (Shipped → Delivered)")).to_be_visible()
    assert overflow(page) == 0
    assert timeline_beyond_window(page) == 0

    page.get_by_role("link", name="Trace", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Trace of order {busy_order.number}")
    trace = page.get_by_test_id("order-trace")
    charge = trace.get_by_role("listitem").filter(has_text="Payment charge pending in ")
    expect(charge).to_contain_text(f"key order-{busy_order.pk}-charge-0")
    expect(charge).to_contain_text(LONG_REQUEST_ID)
    expect(trace.get_by_role("listitem").filter(has_text="Payment callback")).to_have_count(2)
    expect(trace.get_by_role("listitem").filter(has_text="Partial refund · $10.00")).to_contain_text(staff.email)
    expect(trace).not_to_contain_text("simulated_ms")
    assert overflow(page) == 0


@pytest.mark.parametrize("viewport", [WINDOW, PHONE], ids=["1280px", "phone"])
def test_a_held_orders_page_with_a_long_note_and_reason_fits_the_window(page: Page, live_server, staff,
                                                                          order_in_state, settings, viewport):
    settings.PIPELINE_TASKS_SYNC = False  # moved by hand, not by a pipeline run on commit
    order = order_in_state("awaiting_approval")
    Hold.objects.filter(order=order).update(reason="Checked-by-hand:" + "r" * 180)
    staff_note_add(author=staff, text="See https://support.example.com/tickets/" + "a1b2c3d4" * 20, order=order)
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/orders/order/{order.pk}/change/")
    page.get_by_label("E-mail address").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_test_id("order-state")).to_have_text("Awaiting approval")
    expect(page.get_by_text("Checked-by-hand:", exact=False).first).to_be_visible()
    assert overflow(page) == 0
