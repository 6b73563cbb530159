"""The stock ledger: every change of a product's stock is a row, and a product's rows add up
to its stock after reservations, releases, sales, staff edits and restocks. Low stock is each
product's own threshold, or the shop's."""
import importlib
from decimal import Decimal

import pytest

from backoffice.selectors.dashboard import product_low_stock
from catalog.models import Product, StockMovement
from catalog.selectors import product_stock_ledger_total
from catalog.services import product_create, product_update
from orders.services import RefundLineRequest, order_cancel, refund_create

pytestmark = pytest.mark.django_db


def product(public_id: str) -> Product:
    return Product.objects.get(public_id=public_id)


def test_the_ledger_sums_to_the_stock_after_a_mix_of_operations(catalog, order_in_state, staff_user, make_user):
    refunder = make_user("r@example.com", is_staff=True, is_superuser=True)
    shipped = order_in_state("delivered", items={"prod-001": 3, "prod-002": 1})   # reserved, then sold
    cancelled = order_in_state("validated", items={"prod-001": 2})                 # reserved, then released
    order_cancel(order=cancelled, actor=staff_user)
    failed = order_in_state("failed", items={"prod-001": 1})                        # released by the pipeline
    keyboard = product("prod-001")
    product_update(product=keyboard, actor=staff_user, stock=keyboard.stock + 7, stock_seen=keyboard.stock)
    refund_create(order=shipped, amount=None, reason="Returned", actor=refunder, restock=True,
                  lines=[RefundLineRequest(shipped.lines.get(product_public_id="prod-001").pk, 2)])
    new = product_create(name="Cable", price=Decimal("5.00"), category="Electronics", stock=12, actor=staff_user)

    for item in Product.objects.all():
        assert product_stock_ledger_total(product=item) == item.stock, item.public_id
    reasons = set(StockMovement.objects.filter(product__public_id="prod-001").values_list("reason", flat=True))
    assert reasons == {"opening", "reserved", "released", "sold", "staff_edit", "restocked"}
    edit = StockMovement.objects.get(reason="staff_edit")
    assert (edit.delta, edit.user) == (7, staff_user)
    assert StockMovement.objects.get(product=new).reason == "created"
    assert StockMovement.objects.filter(order_ref=failed.pk, reason="released").exists()


def test_an_edit_orders_overtook_writes_no_ledger_row(catalog, staff_user):
    keyboard = product("prod-001")
    rows = StockMovement.objects.count()

    with pytest.raises(Exception, match="nothing was saved"):
        product_update(product=keyboard, actor=staff_user, stock=10, stock_seen=keyboard.stock - 1)

    assert StockMovement.objects.count() == rows


def test_the_product_page_shows_its_ledger(client, staff_user, catalog, order_in_state):
    order = order_in_state("new", items={"prod-003": 2})
    client.force_login(staff_user)

    html = client.get(f"/admin/catalog/product/{product('prod-003').pk}/change/").content.decode()

    assert "Reserved by an order" in html and "Opening balance" in html and f"#{order.pk:06d}" in html
    assert f"all rows add up to the stock ({product('prod-003').stock})" in html


def test_a_products_own_threshold_wins_over_the_shops(catalog, settings, client, staff_user):
    settings.STORE_LOW_STOCK_THRESHOLD = 10
    Product.objects.filter(public_id="prod-001").update(stock=15, low_stock_threshold=20)  # low by its own
    Product.objects.filter(public_id="prod-002").update(stock=8, low_stock_threshold=5)    # not low by its own
    Product.objects.filter(public_id="prod-003").update(stock=9)                           # low by the shop's

    assert sorted(product_low_stock().values_list("public_id", flat=True)) == ["prod-001", "prod-003"]
    assert product("prod-001").is_low_on_stock and not product("prod-002").is_low_on_stock

    page = client.get("/products/prod-001/").content.decode()
    assert "Only 15 left" in page
    client.force_login(staff_user)
    listed = client.get("/admin/catalog/product/", {"stock_level": "low"})
    assert sorted(p.public_id for p in listed.context["cl"].result_list) == ["prod-001", "prod-003"]
    metrics = client.get("/metrics").content.decode()
    assert "store_products_low_stock 2.0" in metrics


def test_the_data_migration_opens_each_products_ledger_at_its_stock(catalog):
    from django.apps import apps

    opening = importlib.import_module("catalog.migrations.0004_stock_ledger_opening_balances")
    StockMovement.objects.all().delete()  # as before the ledger existed
    Product.objects.filter(public_id="prod-004").update(stock=7)

    opening.openings_write(apps, None)
    opening.openings_write(apps, None)  # a product with a ledger gets no second opening

    assert StockMovement.objects.filter(reason="opening").count() == Product.objects.count()
    for item in Product.objects.all():
        assert product_stock_ledger_total(product=item) == item.stock


def test_staff_stock_edits_and_new_products_in_the_admin_are_on_the_ledger(client, staff_user, catalog):
    from tests.backoffice.test_products import change_form

    client.force_login(staff_user)
    mouse = product("prod-002")

    edited = client.post(f"/admin/catalog/product/{mouse.pk}/change/",
                         {**change_form(mouse), "stock": str(mouse.stock - 20), "low_stock_threshold": "30"})
    added = client.post("/admin/catalog/product/add/", {
        "public_id": "prod-900", "name": "Desk Mat", "category": mouse.category_id, "description": "",
        "image": "", "price": "12.00", "stock": "40", "initial-stock": "0", "weight_grams": "500",
        "is_active": "on"})

    assert (edited.status_code, added.status_code) == (302, 302)
    edit = StockMovement.objects.get(product=mouse, reason="staff_edit")
    assert (edit.delta, edit.user) == (-20, staff_user)
    assert product("prod-002").low_stock_threshold == 30
    opened = StockMovement.objects.get(product__public_id="prod-900")
    assert (opened.delta, opened.reason, opened.user) == (40, "created", staff_user)
    for item in Product.objects.all():
        assert product_stock_ledger_total(product=item) == item.stock
