"""The catalog in a real browser: the grid, a product page and back, HTMX filters that keep the URL."""
import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

SEED = [
    ("Mechanical Keyboard", "Electronics", "$149.99"),
    ("Wireless Mouse", "Electronics", "$49.99"),
    ("USB-C Hub", "Electronics", "$79.99"),
    ("Laptop Stand", "Home Office", "$89.99"),
    ("Desk Mat", "Accessories", "$34.99"),
    ("Cable Management Kit", "Accessories", "$24.99"),
    ("Monitor Light Bar", "Home Office", "$59.99"),
    ("IDE License Pro", "Software", "$9.99"),
]


def products(page: Page):
    return page.get_by_role("region", name="Products").get_by_role("article")


def test_the_grid_shows_the_seed_products_with_categories_and_prices(page: Page, live_server, transactional_db,
                                                                    catalog):
    page.goto(live_server.url)

    expect(page.get_by_role("heading", level=1, name="Catalog")).to_be_visible()
    expect(products(page)).to_have_count(8)
    for name, category, price in SEED:
        card = page.get_by_role("article", name=name)
        expect(card).to_contain_text(category)
        expect(card).to_contain_text(price)
        expect(card).to_contain_text(re.compile(r"\d+ in stock"))
    expect(page.get_by_role("status").filter(has_text="products")).to_have_text("8 products")


def test_a_product_page_and_back_to_the_catalog(page: Page, live_server, transactional_db, catalog):
    page.goto(live_server.url)

    page.get_by_role("link", name="USB-C Hub").click()

    expect(page).to_have_url(f"{live_server.url}/products/prod-003/")
    expect(page.get_by_role("heading", level=1, name="USB-C Hub")).to_be_visible()
    expect(page.get_by_text("85 in stock")).to_be_visible()
    page.get_by_role("link", name="Back to catalog").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(products(page)).to_have_count(8)

    page.get_by_role("link", name="Desk Mat").click()
    expect(page.get_by_role("heading", level=1, name="Desk Mat")).to_be_visible()
    page.go_back()
    expect(page.get_by_role("heading", level=1, name="Catalog")).to_be_visible()
    expect(products(page)).to_have_count(8)


def test_the_category_filter_and_search_narrow_the_grid_in_place(page: Page, live_server, transactional_db, catalog):
    page.goto(live_server.url)
    page.evaluate("window.stillTheSamePage = true")

    page.get_by_label("Category").select_option(label="Home Office")

    expect(products(page)).to_have_count(2)
    expect(page).to_have_url(re.compile(r"/\?category=home-office"))
    expect(page.get_by_role("article", name="Laptop Stand")).to_be_visible()
    expect(page.get_by_role("article", name="Monitor Light Bar")).to_be_visible()

    page.get_by_label("Category").select_option(label="All categories")
    page.get_by_label("Search").fill("keyboard")

    expect(products(page)).to_have_count(2)  # the keyboard, and the desk mat that keeps it steady
    expect(page).to_have_url(re.compile(r"q=keyboard"))
    expect(page.get_by_role("status").filter(has_text="products")).to_have_text("2 products matching “keyboard”")
    assert page.evaluate("window.stillTheSamePage") is True  # HTMX swapped the grid; no full reload

    page.get_by_label("Search").fill("no such thing")
    expect(page.get_by_text("No products match your filters.")).to_be_visible()


def test_a_filtered_url_can_be_shared(page: Page, live_server, transactional_db, catalog):
    page.goto(f"{live_server.url}/?category=electronics&q=usb")

    expect(products(page)).to_have_count(2)
    expect(page.get_by_label("Category")).to_have_value("electronics")
    expect(page.get_by_label("Search")).to_have_value("usb")
