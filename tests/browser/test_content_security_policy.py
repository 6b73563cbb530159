"""The Content-Security-Policy in a real browser: the storefront's HTMX, the admin and Swagger UI
work under it with no violation reported, and an inline script is refused."""
import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def csp_violations(page: Page) -> list[str]:
    """What Chromium reports about the policy while the test runs (console and violation events)."""
    seen: list[str] = []
    page.on("console", lambda message: seen.append(message.text) if "Content Security Policy" in message.text else None)
    return seen


def test_pages_admin_and_api_docs_run_under_the_policy(page: Page, live_server, transactional_db, catalog,
                                                       staff_user, csp_violations):
    response = page.goto(live_server.url)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]

    # HTMX: add to cart, and the toast's close button (static/js/store.js).
    page.get_by_role("button", name="Add to Cart: Wireless Mouse").click()
    toast = page.locator("#toasts .toast").filter(has_text="Wireless Mouse added to cart")
    expect(toast).to_be_visible()
    toast.get_by_role("button", name="Dismiss").click()
    expect(toast).to_have_count(0)

    # An inline script is refused: the policy is enforced, not just sent.
    page.evaluate("""() => {
        const script = document.createElement('script');
        script.textContent = 'window.inlineRan = true';
        document.body.appendChild(script);
    }""")
    assert page.evaluate("() => window.inlineRan === true") is False
    assert any("inline" in text for text in csp_violations)
    csp_violations.clear()

    # The admin: signing in and its own scripts (the change list's actions).
    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("E-mail address").fill(staff_user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name="Run the shop")).to_be_visible()
    page.goto(f"{live_server.url}/admin/catalog/product/")
    page.locator("#action-toggle").check()
    expect(page.locator(".action-counter")).to_contain_text(re.compile(r"8 of 8 selected"))

    # Swagger UI: its start-up script is a file, so the operations render.
    docs = page.goto(f"{live_server.url}/api/docs/")
    assert "script-src 'self'" in docs.headers["content-security-policy"]
    expect(page.get_by_text("/api/orders", exact=True).first).to_be_visible()

    assert csp_violations == []
