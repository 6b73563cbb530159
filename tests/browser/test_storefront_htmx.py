"""HTMX requests in a real browser: a session that ended sends the page to the sign-in page and
back, every other failure says what happened in a toast, and the order page's poll keeps focus,
swaps nothing while nothing changed, backs off for an order that waits, and says when it cannot
reach the shop."""
import re

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from tests.browser.test_storefront import (  # noqa: F401 (no_worker is a fixture)
    cart_badge,
    log_in_with_the_form,
    no_worker,
    order_state,
    sign_in,
    toasts,
)
from tests.order_states import order_move

pytestmark = pytest.mark.browser


def polls_of(page: Page, order) -> list[int]:
    """The statuses of the order page's polls from now on, as they arrive."""
    statuses: list[int] = []
    path = f"/orders/{order.pk}/status/"
    page.on("response", lambda response: statuses.append(response.status) if path in response.url else None)
    return statuses


def wait_until(page: Page, predicate, *, timeout: float = 30.0) -> None:
    for _ in range(int(timeout * 10)):
        if predicate():
            return
        page.wait_for_timeout(100)
    raise AssertionError("condition not met in time")


# --- a session that ended ---------------------------------------------------------------------

def test_signing_out_elsewhere_sends_the_polling_order_page_to_sign_in_and_back(
    page: Page, live_server, no_worker, client, customer, place_order  # noqa: F811
):
    order = place_order(customer)  # no worker: it stays new, and its page keeps polling
    sign_in(page, live_server, client, customer)
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(order.number)

    # The same session in another browser context signs out.
    other = page.context.browser.new_context()
    try:
        other.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                            "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "url": live_server.url}])
        elsewhere = other.new_page()
        elsewhere.goto(live_server.url)
        elsewhere.get_by_role("button", name="Log out").click()
        expect(elsewhere.get_by_role("link", name="Log in")).to_be_visible()
    finally:
        other.close()

    expect(page).to_have_url(re.compile(rf"/accounts/login/\?next=%2Forders%2F{order.pk}%2F$"))
    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()
    expect(page.locator("#order-status")).to_have_count(0)  # a page of its own, not inside the order's
    log_in_with_the_form(page, customer.email)

    expect(page).to_have_url(f"{live_server.url}/orders/{order.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(order.number)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()  # the whole page: header, styles
    assert page.evaluate("document.styleSheets.length") >= 1
    expect(page.locator("main .order-layout")).to_have_css("display", "grid")


# --- failures say what happened -----------------------------------------------------------------

def test_a_stale_csrf_token_says_to_reload(page: Page, live_server, transactional_db, catalog):
    page.goto(live_server.url)
    # Signed in or out elsewhere: the browser's CSRF cookie no longer matches this page's token.
    page.context.add_cookies([{"name": settings.CSRF_COOKIE_NAME, "value": "x" * 32, "url": live_server.url}])

    page.get_by_role("button", name="Add to Cart: Wireless Mouse").click()

    expect(toasts(page)).to_contain_text("This page is out of date")
    expect(toasts(page)).to_contain_text("Reload the page and try again.")
    expect(cart_badge(page)).to_have_text("0")
    expect(page.get_by_role("heading", level=1)).to_have_count(1)  # no error page swapped in


@pytest.mark.parametrize(("status", "headers", "said"), [
    (500, {}, "Something went wrong on our side. Reload the page and try again."),
    (400, {}, "The shop could not understand that request; this page may be out of date. Reload the page"),
    (429, {"Retry-After": "30"}, "Too many requests. Wait 30 seconds and try again."),
    (503, {"Retry-After": "120"}, "The shop cannot do that right now. Try again in 2 minutes."),
])
def test_an_error_answer_shows_a_toast_and_swaps_nothing(page: Page, live_server, transactional_db, catalog,
                                                         status, headers, said):
    page.goto(live_server.url)
    page.route("**/cart/add/**", lambda route: route.fulfill(
        status=status, headers=headers, content_type="text/html", body="<h1>Server Error (500)</h1>"))

    page.get_by_role("button", name="Add to Cart: Wireless Mouse").click()

    expect(toasts(page)).to_contain_text(said)
    expect(page.get_by_text("Server Error (500)")).to_have_count(0)
    expect(cart_badge(page)).to_have_text("0")


def test_a_network_failure_says_to_check_the_connection(page: Page, live_server, transactional_db, catalog):
    page.goto(live_server.url)
    page.route("**/cart/add/**", lambda route: route.abort("connectionreset"))

    page.get_by_role("button", name="Add to Cart: Wireless Mouse").click()

    expect(toasts(page)).to_contain_text("The shop could not be reached. Check your connection and try again.")
    expect(cart_badge(page)).to_have_text("0")


# --- the order page's poll ------------------------------------------------------------------------

def test_focus_stays_on_cancel_across_ten_polls_and_an_unchanged_poll_swaps_nothing(
    page: Page, live_server, no_worker, client, customer, place_order  # noqa: F811
):
    order = place_order(customer)
    sign_in(page, live_server, client, customer)
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    cancel = page.get_by_role("button", name="Cancel order")
    page.evaluate("""() => {
        window.swaps = 0;
        document.addEventListener("htmx:afterSwap", () => { window.swaps += 1; });
        window.statusNode = document.getElementById("order-status");
    }""")
    statuses = polls_of(page, order)
    cancel.focus()

    wait_until(page, lambda: len(statuses) >= 10)

    assert set(statuses) == {204}
    expect(cancel).to_be_focused()
    assert page.evaluate("window.swaps") == 0
    assert page.evaluate('window.statusNode === document.getElementById("order-status")') is True

    # Something moves: the next poll swaps the new status in, and focus is still on Cancel.
    order_move(order, "validated")
    expect(order_state(page)).to_have_text("Validated")
    assert page.evaluate("window.swaps") == 1
    expect(cancel).to_be_focused()


def test_an_order_awaiting_approval_is_polled_less_and_less(
    page: Page, live_server, no_worker, client, customer, order_in_state  # noqa: F811
):
    order = order_in_state("awaiting_approval")
    sign_in(page, live_server, client, customer)
    statuses = polls_of(page, order)
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    expect(order_state(page)).to_have_text("Awaiting approval")

    page.wait_for_timeout(12_000)

    # 1 s, then 2, then 5 (then 15): three polls in twelve seconds, not twelve.
    assert statuses and set(statuses) == {204}
    assert 2 <= len(statuses) <= 4, statuses


def test_a_failing_poll_says_reconnecting_until_one_succeeds(
    page: Page, live_server, no_worker, client, customer, place_order  # noqa: F811
):
    order = place_order(customer)
    sign_in(page, live_server, client, customer)
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    connection = page.get_by_role("status").filter(has_text="Reconnecting")
    expect(connection).to_have_count(0)

    polls = re.compile(rf"/orders/{order.pk}/status/")
    page.route(polls, lambda route: route.abort("internetdisconnected"))
    expect(connection).to_be_visible()
    expect(connection).to_contain_text("This page updates by itself once the shop answers.")
    expect(toasts(page)).to_contain_text("The shop could not be reached.")

    page.unroute(polls)
    expect(connection).to_have_count(0)
    expect(page.locator("#order-connection")).to_have_text("")
