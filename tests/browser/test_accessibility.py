"""Every storefront page passes axe-core's checks (WCAG 2.x A and AA, and axe's best practices),
signed in and out, on a desktop and on a phone. The report of a failure lists each violation."""
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.services import address_create
from orders.models import PaymentLink
from orders.services.reorder import payment_link_token
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


def violations_here(page: Page, what: str) -> str:
    """axe's report for the page the browser is on (after a form was sent), or ""."""
    expect(page.locator("main")).to_be_visible()
    results = AXE.run(page)
    return "" if results.violations_count == 0 else f"{what} ({page.url}):\n{results.generate_report()}\n"


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_address_book_try_again_and_refusal_pages_have_no_axe_violations(page: Page, live_server, sync_pipeline,
                                                                          client, customer, place_order, viewport):
    home = address_create(user=customer, label="Home <b>", address="1 Market Street", city="Springfield",
                          state="IL", zip="62701")
    declined = place_order(customer, card=CARD_DECLINE)
    expired = PaymentLink.objects.create(order=declined, expires_at=timezone.now() - timedelta(hours=1))
    page.set_viewport_size(VIEWPORTS[viewport])
    page.emulate_media(reduced_motion="reduce")  # axe reads the toasts' colours, not their fade-in
    sign_in(page, live_server, client, customer)
    report = "".join(violations_on(page, path, live_server.url) for path in [
        "/accounts/addresses/add/",
        f"/accounts/addresses/{home.pk}/edit/",
        f"/orders/payment-link/{payment_link_token(expired)}/",
    ])
    # The address form sent with a wrong ZIP code: its error summary.
    page.goto(live_server.url + "/accounts/addresses/add/")
    page.get_by_label("Label").fill("Work")
    page.get_by_label("Street address").fill("2 Main Street")
    page.get_by_label("City").fill("Springfield")
    page.get_by_label("State").fill("IL")
    page.get_by_label("ZIP code").fill("no zip")
    page.get_by_role("button", name="Save address").click()
    expect(page.locator(".error-summary")).to_be_visible()
    report += violations_here(page, "address form with errors")
    # Try again: the checkout with what went back in the cart told, then its error summary.
    page.goto(live_server.url + f"/orders/{declined.pk}/")
    page.get_by_role("button", name="Try again").click()
    expect(page).to_have_url(live_server.url + "/checkout/")
    report += violations_here(page, "checkout after Try again")
    page.get_by_label("ZIP code").fill("no zip")
    page.locator(".checkout__submit").click()
    expect(page.locator(".error-summary")).to_be_visible()
    report += violations_here(page, "checkout with errors")
    report += violations_on(page, f"/checkout/?address={home.pk}", live_server.url)
    assert not report, report
