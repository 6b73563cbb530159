"""A Refunds member's second factor in a real browser: enrolment at first sign-in (the secret read
off the page, the code computed from it as an authenticator app would), then a later sign-in
with the next code. axe finds nothing on the pages on the way."""
import re
from base64 import b32decode

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import Permission
from django_otp.oath import totp
from playwright.sync_api import Page, expect

from store.staff import shop_staff_group_sync
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


AXE = Axe()


def violations_here(page: Page) -> str:
    """axe's report for the page the browser is on, or "" when it found nothing."""
    results = AXE.run(page)
    return "" if results.violations_count == 0 else f"{page.url}:\n{results.generate_report()}\n"


def app_code(secret: str, steps_ahead: int = 0) -> str:
    return f"{totp(b32decode(secret.replace(' ', '')), drift=steps_ahead):06d}"


def sign_in(page: Page, live_server, email: str) -> None:
    page.goto(f"{live_server.url}/admin/orders/order/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_refunder_enrols_then_signs_in_with_a_code(page: Page, live_server, settings, make_user):
    settings.STAFF_REQUIRE_2FA = True
    refunder = make_user("refunds@example.com", name="Rita Refunds", is_staff=True)
    refunder.groups.add(shop_staff_group_sync())
    refunder.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="refund_order"))

    sign_in(page, live_server, refunder.email)
    expect(page.get_by_role("heading", level=1, name="Set up your second factor")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    reports = [violations_here(page)]
    secret = page.locator("[data-secret]").inner_text()
    page.get_by_label("Code").fill(app_code(secret))
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", level=1, name="Your recovery codes")).to_be_visible()
    expect(page.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(10)
    reports.append(violations_here(page))
    page.get_by_role("link", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/admin/orders/order/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("order")

    page.get_by_role("button", name="Log out").click()
    sign_in(page, live_server, refunder.email)
    expect(page.get_by_role("heading", level=1, name="Enter your code")).to_be_visible()
    reports.append(violations_here(page))
    page.get_by_label("Code").fill(app_code(secret, 1))  # the app's next code: each is taken once
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/admin/orders/order/$"))
    expect(page.get_by_role("link", name="Recovery codes")).to_be_visible()
    assert "".join(reports) == "", "".join(reports)
