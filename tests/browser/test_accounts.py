"""Accounts in a real browser: register, log in (and back to where you were), profile, log out."""
import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PASSWORD = "Sturdy-Passw0rd!"


def header(page: Page):
    return page.get_by_role("navigation", name="Main")


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def expect_signed_out(page: Page) -> None:
    expect(header(page).get_by_role("link", name="Log in")).to_be_visible()
    expect(header(page).get_by_role("link", name="Register")).to_be_visible()
    expect(header(page).get_by_role("button", name="Log out")).to_have_count(0)


def expect_signed_in(page: Page) -> None:
    expect(header(page).get_by_role("link", name="Profile")).to_be_visible()
    expect(header(page).get_by_role("button", name="Log out")).to_be_visible()
    expect(header(page).get_by_role("link", name="Log in")).to_have_count(0)


def test_register_leads_to_a_signed_in_header(page: Page, live_server, transactional_db):
    page.goto(live_server.url)
    expect_signed_out(page)
    header(page).get_by_role("link", name="Register").click()

    page.get_by_label("E-mail address").fill("ada@example.com")
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Confirm password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("heading", level=1, name="Catalog")).to_be_visible()
    expect_signed_in(page)
    expect(page.get_by_role("status").filter(has_text="Welcome")).to_contain_text("Welcome, Ada!")


def test_a_weak_password_is_explained_on_the_register_page(page: Page, live_server, transactional_db):
    page.goto(f"{live_server.url}/accounts/register/")

    page.get_by_label("E-mail address").fill("weak@example.com")
    page.get_by_label("Full name").fill("Weak Password")
    page.get_by_label("Password", exact=True).fill("12345678")
    page.get_by_label("Confirm password").fill("12345678")
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("alert")).to_contain_text("This password is too common.")
    expect_signed_out(page)


def test_a_wrong_password_shows_an_error(page: Page, live_server, transactional_db, customer):
    page.goto(f"{live_server.url}/accounts/login/")

    log_in(page, "customer@example.com", "Not-the-passw0rd")

    expect(page.get_by_role("alert")).to_have_text(re.compile(r"There is a problem\s+Incorrect e-mail address or password."))
    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()
    expect_signed_out(page)


def test_log_in_returns_to_the_page_that_asked_for_it(page: Page, live_server, transactional_db, customer):
    page.goto(f"{live_server.url}/accounts/profile/")
    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()

    log_in(page, "Customer@Example.com")

    expect(page).to_have_url(f"{live_server.url}/accounts/profile/")
    expect(page.get_by_role("heading", level=1, name="Your profile")).to_be_visible()


def test_a_profile_name_change_persists(page: Page, live_server, transactional_db, customer):
    page.goto(f"{live_server.url}/accounts/login/?next=/accounts/profile/")
    log_in(page, "customer@example.com")
    expect(page.get_by_label("Full name")).to_have_value("Casey Customer")

    page.get_by_label("Full name").fill("Casey Q. Customer")
    page.get_by_role("button", name="Save changes").click()

    expect(page.get_by_role("status").filter(has_text="updated")).to_contain_text("Your profile has been updated.")
    page.reload()
    expect(page.get_by_label("Full name")).to_have_value("Casey Q. Customer")
    customer.refresh_from_db()
    assert customer.name == "Casey Q. Customer"


def test_log_out_returns_to_the_signed_out_header(page: Page, live_server, transactional_db, customer):
    page.goto(f"{live_server.url}/accounts/login/")
    log_in(page, "customer@example.com")
    expect_signed_in(page)

    header(page).get_by_role("button", name="Log out").click()

    expect_signed_out(page)
    expect(page.get_by_role("status").filter(has_text="signed out")).to_contain_text("You have been signed out.")
    page.goto(f"{live_server.url}/accounts/profile/")
    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()
