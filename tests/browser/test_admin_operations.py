"""An operations manager's day in a real browser at 1400 px: the order list shows its date
columns whole, failed tasks wrap instead of running off sideways, the approval queue counts
orders, the report and Needs attention read well, and resubmitting a task says so."""
import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Failure
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

WIDTH = 1400


def sign_in(page: Page, live_server, user) -> None:
    page.set_viewport_size({"width": WIDTH, "height": 900})
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("E-mail address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name="Run the shop")).to_be_visible()


def overflow(page: Page) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def clipped_cells(page: Page, selector: str) -> list[str]:
    """Cells matching `selector` that the list's box cuts off (Django's list scrolls inside its box),
    that overflow their own cell, or that lie past the window's edge."""
    return page.evaluate(
        """([selector, width]) => {
            const box = document.querySelector("#changelist .results").getBoundingClientRect();
            return [...document.querySelectorAll(selector)]
              .filter(cell => {
                const r = cell.getBoundingClientRect();
                return cell.scrollWidth > cell.clientWidth + 1 || r.right > Math.min(box.right, width) + 1;
              })
              .map(cell => cell.textContent.trim());
        }""",
        [selector, WIDTH],
    )


def list_scrolls_sideways(page: Page) -> bool:
    return page.evaluate("(() => { const r = document.querySelector('#changelist .results');"
                         " return r.scrollWidth > r.clientWidth + 1; })()")


@pytest.fixture
def manager(make_user):
    return make_user("ops@example.com", name="Olga Operations", is_staff=True, is_superuser=True)


@pytest.fixture
def busy_day(order_in_state, make_user, settings):
    """About thirty orders (some with long customer e-mails), held ones, and failed pipeline tasks
    whose tracebacks are long unbroken lines. No worker runs: the orders stay where they are put."""
    settings.PIPELINE_TASKS_SYNC = False
    long_mail = make_user("a.very.long.customer.name.for.the.list@an-unusually-long-domain.example.com")
    order_in = order_in_state
    orders = [order_in("paid", user=long_mail, items={"prod-002": 1}) for _ in range(20)]
    orders += [order_in("awaiting_approval", items={"prod-003": 1}) for _ in range(6)]
    orders += [order_in("validated", items={"prod-004": 1}) for _ in range(4)]
    now = timezone.now()
    trace = "Traceback:" + "/".join(["site-packages", "workflows", "runner.py"] * 40) + "TimeoutError"
    for order in orders[-4:]:
        Failure.objects.create(id=uuid.uuid4().hex, name=f"pipeline-order-{order.pk}",
                               func="workflows.tasks.pipeline_run", args=(order.pk, None), kwargs={},
                               result=trace, started=now - timedelta(seconds=2), stopped=now, success=False)
    return orders


def test_the_order_list_and_the_failed_tasks_fit_1400_px(page: Page, live_server, manager, busy_day):
    sign_in(page, live_server, manager)

    page.goto(f"{live_server.url}/admin/orders/order/")
    expect(page.get_by_role("link", name="Export CSV")).to_be_visible()
    assert overflow(page) == 0
    assert not list_scrolls_sideways(page)
    assert clipped_cells(page, "#result_list td.field-created, #result_list td.field-updated") == []
    expect(page.locator("#result_list td.field-created").first).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$"))
    assert clipped_cells(page, "#result_list td .list-when") == []

    page.goto(f"{live_server.url}/admin/django_q/failure/")
    expect(page.locator("#result_list tbody tr")).to_have_count(4)
    assert overflow(page) == 0
    assert not list_scrolls_sideways(page)
    assert clipped_cells(page, "#result_list td") == []
    expect(page.locator("#result_list td.field-order a").first).to_have_text(re.compile(r"#\d{6}"))

    page.goto(f"{live_server.url}/admin/orders/orderawaitingapproval/")
    expect(page.locator("p.paginator")).to_contain_text("6 orders awaiting approval")
    assert overflow(page) == 0


def test_the_manager_works_through_needs_attention(page: Page, live_server, manager, busy_day):
    sign_in(page, live_server, manager)
    expect(page.get_by_label("Failed tasks")).to_contain_text("4 failed tasks")
    page.get_by_role("link", name="Needs attention").first.click()

    expect(page.get_by_role("heading", level=1, name="Needs attention")).to_be_visible()
    expect(page.get_by_role("heading", name="Held for approval (6)")).to_be_visible()
    expect(page.get_by_role("heading", name="Failed tasks (4)")).to_be_visible()
    assert overflow(page) == 0

    # Cancel the orders of the failed tasks: each cancellation asks first, then comes back here.
    for order in busy_day[-4:]:
        page.locator(f'section[data-section="tasks"] tr[data-task="pipeline-order-{order.pk}"]').get_by_role(
            "button", name=f"Cancel order order {order.number}").click()
        page.get_by_label("Internal note").fill("Customer asked")
        page.get_by_role("button", name=re.compile("^Yes")).click()
        expect(page.get_by_text(f"Order {order.number} cancelled: it is now cancelled.")).to_be_visible()
    expect(page.get_by_role("heading", name="Failed tasks (0)")).to_be_visible()

    page.goto(f"{live_server.url}/admin/")
    expect(page.get_by_label("Failed tasks")).to_contain_text("0 failed tasks")


def test_resubmit_says_what_it_did(page: Page, live_server, manager, busy_day):
    sign_in(page, live_server, manager)
    page.goto(f"{live_server.url}/admin/django_q/failure/")
    page.locator("#action-toggle").check()
    page.get_by_role("combobox", name="Action").select_option(label="Resubmit selected tasks to queue")
    page.get_by_role("button", name="Go").click()
    expect(page.locator("ul.messagelist")).to_contain_text("Resubmitted 4 tasks to the queue")


def test_the_report_shows_the_period_and_refuses_bad_dates(page: Page, live_server, manager, busy_day):
    sign_in(page, live_server, manager)
    page.goto(f"{live_server.url}/admin/orders/order/")
    page.get_by_role("link", name="Report").click()
    expect(page.locator("tr[data-total] td[data-figure='orders']")).to_have_text("30")
    assert overflow(page) == 0

    page.get_by_label("From", exact=True).fill("2026-12-31")
    page.get_by_label("To", exact=True).fill("2026-12-01")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("alert")).to_contain_text("The period ends before it starts")
