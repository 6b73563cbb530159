"""Two web processes sharing the fragment cache (the file cache in DATA_DIR, or Redis when
REDIS_URL is set) each show a stock or price change on their very next request."""
import json
import os
import re
import subprocess
import sys
from decimal import Decimal

from catalog.models import Product
from catalog.stock import stock_take
from tests.ops.conftest import BASE_DIR, http_get, process_env

PRODUCT = "prod-001"


def shown(base: str) -> list[tuple[str, str]]:
    """prod-001's price and stock line on the catalog page, its own page, and the API (list, detail)."""
    catalog_page = http_get(f"{base}/")[2]
    product_page = http_get(f"{base}/products/{PRODUCT}/")[2]
    listed = next(p for p in json.loads(http_get(f"{base}/api/products")[2]) if p["id"] == PRODUCT)
    detail = json.loads(http_get(f"{base}/api/products/{PRODUCT}")[2])
    card = re.search(r'id="prod-001-name".*?<p class="price">([^<]+)</p>\s*<p class="stock[^"]*">([^<]+)</p>',
                     catalog_page, re.S)
    page = re.search(r'<p class="price price--large">([^<]+)</p>\s*<p class="stock[^"]*">([^<]+)</p>', product_page)
    return [card.groups(), page.groups(), (f"${Decimal(str(listed['price'])):.2f}", f"{listed['stock']} in stock"),
            (f"${Decimal(str(detail['price'])):.2f}", f"{detail['stock']} in stock")]


def test_a_change_shows_on_the_next_request_of_every_process(transactional_db, web_servers, catalog, tmp_path):
    env = process_env(DATA_DIR=tmp_path)
    first, second = web_servers(env), web_servers(env)
    product = catalog[PRODUCT]
    before = ("$149.99", f"{product.stock} in stock")
    assert shown(first.url) == shown(second.url) == [before] * 4

    assert stock_take(product_id=product.pk, quantity=4)
    taken = ("$149.99", f"{product.stock - 4} in stock")
    assert shown(second.url) == shown(first.url) == [taken] * 4

    Product.objects.filter(pk=product.pk).update(price=Decimal("120.00"))
    repriced = ("$120.00", f"{product.stock - 4} in stock")
    assert shown(first.url) == shown(second.url) == [repriced] * 4


def test_the_code_digest_is_computed_when_the_process_starts(tmp_path):
    """Part of every fragment's key: computed as the app starts, not by some visitor's request."""
    script = "import django; django.setup(); from store import fragments; print(fragments._code)"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "store.settings_test", "DATA_DIR": str(tmp_path)}
    started = subprocess.run([sys.executable, "-c", script], env=env, cwd=BASE_DIR, capture_output=True, text=True,
                             timeout=60, check=True)

    assert re.fullmatch(r"\['[0-9a-f]{16}'\]\n", started.stdout)
