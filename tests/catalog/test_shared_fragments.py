"""The catalog's shared fragments and data (store/fragments.py): a change shows on the very next
request, for every visitor, and each visitor keeps their own CSRF token, path and header."""
import re
from decimal import Decimal
from html import unescape
from urllib.parse import quote

import pytest
from django.core.cache import caches
from django.test import Client

from catalog import services
from catalog.models import Product
from catalog.stock import stock_take

PRODUCT = "prod-001"
CARD_STOCK = re.compile(r'id="prod-001-name".*?<p class="price">([^<]+)</p>\s*<p class="stock[^"]*">([^<]+)</p>', re.S)
DETAIL_STOCK = re.compile(r'<p class="price price--large">([^<]+)</p>\s*<p class="stock[^"]*">([^<]+)</p>')


def stock_number(text: str) -> int:
    """The units a stock line shows: "50 in stock", "Only 7 left", "Out of stock"."""
    return int(re.search(r"\d+", text).group()) if text != "Out of stock" else 0


def shown(client: Client) -> dict[str, tuple[Decimal, int]]:
    """(price, stock) of prod-001 as each cached path shows it to `client`."""
    catalog_page = client.get("/").content.decode()
    product_page = client.get(f"/products/{PRODUCT}/").content.decode()
    listed = next(p for p in client.get("/api/products").json() if p["id"] == PRODUCT)
    detail = client.get(f"/api/products/{PRODUCT}").json()
    pages = {"catalog page": CARD_STOCK.search(catalog_page).groups(),
             "product page": DETAIL_STOCK.search(product_page).groups()}
    return {
        **{name: (Decimal(price.lstrip("$")), stock_number(stock)) for name, (price, stock) in pages.items()},
        "API list": (Decimal(str(listed["price"])), listed["stock"]),
        "API detail": (Decimal(str(detail["price"])), detail["stock"]),
    }


def fragment_entries() -> int:
    """How many entries the fragments cache holds, as its backend lists them."""
    cache = caches["fragments"]
    if "Redis" in type(cache).__name__:
        return len(cache._cache.get_client().keys(f"{cache.key_prefix}:*"))
    return len(cache._list_cache_files())


def every_path(price: str, stock: int) -> dict[str, tuple[Decimal, int]]:
    return dict.fromkeys(("catalog page", "product page", "API list", "API detail"), (Decimal(price), stock))


@pytest.fixture
def shoppers(catalog):
    """Two visitors with clients of their own, sharing the fragment cache as two processes do."""
    return Client(), Client()


def test_a_stock_change_by_an_order_shows_on_the_next_request_of_every_visitor(shoppers, catalog):
    first, second = shoppers
    stock = catalog[PRODUCT].stock
    assert shown(first) == shown(second) == every_path("149.99", stock)

    assert stock_take(product_id=catalog[PRODUCT].pk, quantity=3)

    assert shown(second) == shown(first) == every_path("149.99", stock - 3)


def test_a_price_and_stock_edit_by_staff_shows_on_the_next_request_of_every_visitor(shoppers, catalog):
    first, second = shoppers
    product = catalog[PRODUCT]
    shown(first), shown(second)

    services.product_update(product=product, price=Decimal("79.50"), stock=7, stock_seen=product.stock)

    assert shown(second) == shown(first) == every_path("79.50", 7)


def test_a_change_written_straight_to_the_row_shows_too(shoppers, catalog):
    """Keys come from the rows read, so even an UPDATE that no code path announces is seen."""
    first, second = shoppers
    shown(first)

    Product.objects.filter(public_id=PRODUCT).update(stock=0, price=Decimal("1.00"))

    assert shown(second) == every_path("1.00", 0)


def test_a_renamed_category_shows_on_the_next_request(shoppers, catalog):
    first, second = shoppers
    first.get("/")
    category = catalog[PRODUCT].category
    category.name = "Peripherals"
    category.save()

    assert 'class="badge badge--category">Peripherals<' in second.get("/").content.decode()
    assert next(p for p in second.get("/api/products").json() if p["id"] == PRODUCT)["category"] == "Peripherals"


def test_a_withdrawn_product_and_a_new_one_show_on_the_next_request(shoppers, catalog):
    """The kept pages and data name every row read: a row that leaves or joins the catalog shows too."""
    first, second = shoppers
    shown(first)

    Product.objects.filter(public_id=PRODUCT).update(is_active=False)
    services.product_create(name="Standing desk mat", price=Decimal("39.00"), category=catalog[PRODUCT].category.name,
                            stock=4, public_id="prod-900")

    assert second.get(f"/products/{PRODUCT}/").status_code == 404
    assert second.get(f"/api/products/{PRODUCT}").status_code == 404
    for client in (first, second):
        page = client.get("/").content.decode()
        assert f"/products/{PRODUCT}/" not in page and "/products/prod-900/" in page
        listed = [p["id"] for p in client.get("/api/products").json()]
        assert PRODUCT not in listed and "prod-900" in listed
        assert "Standing desk mat" in client.get("/products/prod-900/").content.decode()


def csrf_inputs(html: str) -> set[str]:
    return set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))


def next_inputs(html: str) -> set[str]:
    return {unescape(value) for value in re.findall(r'name="next" value="([^"]*)"', html)}


@pytest.mark.parametrize("path", ["/", "/?q=keyboard&utm=a%22b", f"/products/{PRODUCT}/"])
def test_each_visitor_gets_their_own_csrf_token_and_path_in_a_shared_fragment(catalog, path):
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    tokens = {}
    for client in (first, second, second):
        html = client.get(path).content.decode()
        assert len(csrf_inputs(html)) == 1
        assert next_inputs(html) == {path}
        assert f'href="/accounts/login/?next={quote(path, safe="/")}"' in html
        tokens[client] = csrf_inputs(html).pop()
        # The add-to-cart form's token is this visitor's: the post is taken, and comes back to the page.
        answer = client.post("/cart/add/", {"product_id": PRODUCT, "next": path, "csrfmiddlewaretoken": tokens[client]})
        assert (answer.status_code, answer["Location"]) == (302, path)

    refused = second.post("/cart/add/", {"product_id": PRODUCT, "next": path, "csrfmiddlewaretoken": tokens[first]})
    assert refused.status_code == 403


def test_the_header_stays_each_visitors_own_around_the_shared_grid(shoppers, catalog, customer):
    anonymous, signed_in = shoppers
    signed_in.force_login(customer)
    signed_in.post("/cart/add/", {"product_id": PRODUCT, "quantity": 2})
    anonymous.get("/")

    mine = signed_in.get("/").content.decode()
    theirs = anonymous.get("/").content.decode()

    assert '<span id="cart-count" class="badge">2</span>' in mine and "Log out" in mine
    assert '<span id="cart-count" class="badge">0</span>' in theirs and "Log out" not in theirs


def test_text_that_looks_like_a_mark_is_shown_as_written(shoppers, catalog):
    product = catalog[PRODUCT]
    odd = "csrf_token next_path {{ csrf_token }} %(next_path)s 0x 1x"
    Product.objects.filter(pk=product.pk).update(name=odd, description=odd)

    for path in ("/", f"/products/{PRODUCT}/"):
        html = unescape(shoppers[0].get(path).content.decode())
        assert f"{odd}</a></h2>" in html or f"<h1>{odd}</h1>" in html


def broken_cache(kind: str, tmp_path) -> dict:
    if kind == "redis":  # nothing listens on port 1: every call is refused, then the breaker answers
        return {"BACKEND": "store.cache.CircuitRedisCache", "LOCATION": "redis://127.0.0.1:1/0",
                "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}
    blocker = tmp_path / "not-a-folder"  # a file where the cache's folder should be
    blocker.write_text("")
    return {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(blocker / "cache")}


@pytest.mark.parametrize("kind", ["redis", "file"])
def test_a_broken_fragment_cache_still_serves_every_path(shoppers, catalog, customer, settings, tmp_path, kind):
    """A cache that fails renders as if there were none: no error, and the rows as they are."""
    settings.CACHES = {**settings.CACHES, "fragments": broken_cache(kind, tmp_path)}
    signed_in = Client()
    signed_in.force_login(customer)

    for client in (*shoppers, signed_in):
        assert shown(client) == every_path("149.99", catalog[PRODUCT].stock)
    Product.objects.filter(pk=catalog[PRODUCT].pk).update(stock=5)
    for client in (*shoppers, signed_in):
        assert shown(client) == every_path("149.99", 5)


def test_each_searching_visitor_sees_their_own_words_and_searches_keep_nothing(catalog):
    """Only the few addresses there are (all products, a category by its slug) are kept whole: a
    search's words and any spelling of a category are rendered, however many there are."""
    first, second = Client(), Client()
    first.get("/")
    assert fragment_entries() == 1  # the whole page of all products

    for client, words in ((first, "zzz1"), (second, "zzz2"), (first, "zzz2"), (second, "zzz1")):
        assert f'name="q" value="{words}"' in client.get("/", {"q": words}).content.decode()
    for number in range(1, 21):
        assert f'name="q" value="key{number}"' in first.get("/", {"q": f"key{number}"}).content.decode()
        first.get("/", {"q": f"random-{number}", "category": "electronics"})
        first.get("/", {"category": "ElEcTrOnIcS"[:number] + "electronics"[number:]})

    assert fragment_entries() == 2  # and the grid of the electronics, whichever way they were spelled


def test_api_searches_keep_nothing(api_client, catalog):
    api_client.get("/api/products")
    assert fragment_entries() == 1

    for number in range(20):
        assert api_client.get("/api/products", {"search": f"o{number % 3 or ''}"}).status_code == 200
        assert api_client.get("/api/products", {"search": f"zzz{number}"}).json() == []

    assert fragment_entries() == 1


def test_api_pages_of_a_size_the_client_chose_keep_nothing(api_client, catalog):
    api_client.get("/api/products")
    assert fragment_entries() == 1

    for size in range(1, 10):
        for page in range(1, 8 // size + 1):
            assert api_client.get("/api/products", {"pageSize": size, "page": page}).status_code == 200

    assert fragment_entries() == 1


def test_a_category_by_its_slug_is_kept_whole_once(catalog):
    client = Client()
    for _ in range(3):
        assert 'name="q" value=""' in client.get("/", {"category": "electronics"}).content.decode()
        client.get("/", {"category": "electronics"}, headers={"HX-Request": "true", "HX-Target": "product-grid"})

    assert fragment_entries() == 2  # the page and the filter form's answer


def test_debug_is_part_of_the_key(catalog, settings):
    client = Client()
    client.get("/")
    settings.DEBUG = True
    client.get("/")

    assert fragment_entries() == 2


def test_with_fragment_cache_seconds_0_nothing_is_kept_and_every_change_shows(shoppers, catalog, customer, settings):
    settings.FRAGMENT_CACHE_SECONDS = 0
    signed_in = Client()
    signed_in.force_login(customer)
    for client in (*shoppers, signed_in):
        assert shown(client) == every_path("149.99", catalog[PRODUCT].stock)
        assert 'name="q" value="zzz"' in client.get("/", {"q": "zzz"}).content.decode()

    Product.objects.filter(pk=catalog[PRODUCT].pk).update(stock=5)

    for client in (*shoppers, signed_in):
        assert shown(client) == every_path("149.99", 5)
    assert fragment_entries() == 0
