"""Catalog pages: the grid with its HTMX filters, and the product page."""
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.text import Truncator

from catalog.models import Product
from tests.catalog.factories import products_add

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "product-grid"}


def card_names(response) -> list[str]:
    return re.findall(r'class="product-card__name"[^>]*><a href="[^"]+">([^<]+)</a>', response.content.decode())


def test_the_catalog_shows_every_product_with_category_price_stock_and_picture(client, catalog):
    Product.objects.filter(public_id="prod-006").update(stock=0)

    response = client.get("/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Catalog</h1>" in html
    assert card_names(response) == [p.name for p in catalog.values()]
    assert html.count('class="badge badge--category">Electronics<') == 3
    assert "$149.99" in html and "$9.99" in html
    assert "50 in stock" in html and "999 in stock" in html
    assert html.count("Out of stock") == 1
    assert 'src="/static/img/products/ide-license.svg"' in html
    assert 'href="/products/prod-001/"' in html
    assert "8 products" in html


def test_the_catalog_has_a_labelled_category_filter_and_search_box(client, catalog):
    html = client.get("/").content.decode()

    assert '<label for="filter-category">Category</label>' in html
    assert '<label for="filter-q">Search</label>' in html
    for category in ("accessories", "electronics", "home-office", "software"):
        assert f'<option value="{category}"' in html
    assert 'hx-push-url="true"' in html and 'hx-target="#product-grid"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"category": "home-office"}, ["Laptop Stand", "Monitor Light Bar"]),
        ({"q": "keyboard"}, ["Mechanical Keyboard", "Desk Mat"]),
        ({"category": "electronics", "q": "usb"}, ["Mechanical Keyboard", "USB-C Hub"]),
        ({"q": "nothing like this"}, []),
    ],
)
def test_the_filters_narrow_the_grid(client, catalog, query, expected):
    response = client.get("/", query)

    assert card_names(response) == expected
    if not expected:
        assert "No products match your filters." in response.content.decode()


def test_a_filtered_url_renders_the_whole_page_with_the_filters_filled_in(client, catalog):
    html = client.get("/", {"category": "software", "q": "ide"}).content.decode()

    assert "<h1>Catalog</h1>" in html
    assert '<option value="software" selected>' in html
    assert 'value="ide"' in html
    assert "1 product matching “ide”" in html


def test_an_htmx_request_gets_only_the_grid_and_the_result_count(client, catalog):
    response = client.get("/", {"category": "software"}, **HTMX)

    html = response.content.decode()
    assert '<section id="product-grid"' in html
    assert "<h1>" not in html and "<html" not in html
    assert card_names(response) == ["IDE License Pro"]
    assert '<div hx-swap-oob="innerHTML:#result-count">1 product' in html
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize(
    "headers",
    [{"HTTP_HX_REQUEST": "true", "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}, {"HTTP_HX_REQUEST": "true"}],
    ids=["history-restore", "other-target"],
)
def test_other_htmx_requests_get_the_whole_page(client, catalog, headers):
    response = client.get("/", {"category": "software"}, **headers)

    assert "<h1>Catalog</h1>" in response.content.decode()


def test_withdrawn_products_are_not_in_the_catalog(client, catalog):
    Product.objects.filter(public_id="prod-001").update(is_active=False)

    assert "Mechanical Keyboard" not in card_names(client.get("/"))
    assert client.get("/products/prod-001/").status_code == 404


def test_the_product_page_shows_the_product_and_links_back(client, catalog):
    response = client.get("/products/prod-003/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>USB-C Hub</h1>" in html
    assert "Seven ports in one aluminium hub" in html
    assert "$79.99" in html and "85 in stock" in html
    assert 'href="/?category=electronics">Electronics</a>' in html
    assert re.search(r'<a href="/">.*Back to catalog</a>', html)


def test_an_unknown_product_page_is_404(client, catalog):
    assert client.get("/products/prod-999/").status_code == 404


@pytest.mark.parametrize(("path", "status"), [("/products/prod-001%00/", 404), ("/?q=key%00", 200),
                                              ("/?category=electronics%00", 200)])
def test_a_nul_character_in_the_address_finds_nothing_rather_than_crashing(client, catalog, path, status):
    """PostgreSQL refuses a NUL in a text value; a visitor who sends one finds no product, never a 500."""
    client.raise_request_exception = False
    response = client.get(path)

    assert response.status_code == status
    assert card_names(response) == []


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_the_catalog_runs_a_constant_number_of_queries(client, catalog, headers):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/", **headers)
        assert response.status_code == 200
        return len(queries)

    with_8 = count_queries()
    products_add(22)
    assert len(card_names(client.get("/", **headers))) == 30
    assert count_queries() == with_8


def test_the_catalog_queries_stay_constant_for_a_signed_in_customer(client, customer, catalog):
    client.force_login(customer)
    with CaptureQueriesContext(connection) as with_8:
        client.get("/")
    products_add(22)
    with CaptureQueriesContext(connection) as with_30:
        client.get("/")

    assert len(with_30) == len(with_8)


def test_every_page_describes_itself_and_a_product_page_with_its_description(client, catalog):
    product = catalog["prod-003"]

    catalog_html = client.get("/").content.decode()
    product_html = client.get(f"/products/{product.public_id}/").content.decode()

    description = re.compile(r'<meta name="description" content="([^"]+)">')
    assert "order online" in description.search(catalog_html)[1]
    assert unescape(description.search(product_html)[1]) == Truncator(product.description).chars(160)
