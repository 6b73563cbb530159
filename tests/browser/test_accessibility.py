"""Every storefront page passes axe-core's checks (WCAG 2.x A and AA, and axe's best practices),
signed in and out, on a desktop and on a phone. The report of a failure lists each violation."""
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.test_storefront import sign_in
from tests.conftest import CARD_DECLINE

pytestmark = pytest.mark.browser

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
AXE = Axe()

# Pages anyone may open (those needing a session send the visitor to sign in, itself checked).
PUBLIC_PAGES = [
    "/",
    "/?category=electronics",
    "/?q=desk",
    "/products/prod-003/",
    "/cart/",
    "/accounts/login/",
    "/accounts/register/",
    "/accounts/password/reset/",
]


def violations_on(page: Page, path: str, base_url: str) -> str:
    """axe's report for one page, or "" when it found nothing."""
    page.goto(base_url + path)
    expect(page.locator("main")).to_be_visible()
    results = AXE.run(page)
    return "" if results.violations_count == 0 else f"{path} ({page.url}):\n{results.generate_report()}\n"


def add_to_cart(page: Page, base_url: str) -> None:
    """A cart with an item, so the cart and checkout pages show their lines (and a toast shows)."""
    page.goto(base_url)
    page.get_by_role("button", name="Add to Cart: Wireless Mouse").click()
    expect(page.locator("#cart-count")).to_have_text("1")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_signed_out_pages_have_no_axe_violations(page: Page, live_server, transactional_db, catalog, viewport):
    page.set_viewport_size(VIEWPORTS[viewport])
    add_to_cart(page, live_server.url)
    report = "".join(violations_on(page, path, live_server.url) for path in [*PUBLIC_PAGES, "/checkout/", "/orders/"])
    assert not report, report


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_signed_in_pages_have_no_axe_violations(page: Page, live_server, sync_pipeline, client, customer,
                                                place_order, viewport):
    delivered = place_order(customer)
    declined = place_order(customer, card=CARD_DECLINE)  # a failed stage and stages never reached
    page.set_viewport_size(VIEWPORTS[viewport])
    sign_in(page, live_server, client, customer)
    add_to_cart(page, live_server.url)
    paths = [
        *PUBLIC_PAGES[:5],
        "/checkout/",
        "/orders/",
        f"/orders/{delivered.pk}/",
        f"/orders/{declined.pk}/",
        "/notifications/",
        "/accounts/profile/",
        "/accounts/password/",
    ]
    report = "".join(violations_on(page, path, live_server.url) for path in paths)
    assert not report, report
