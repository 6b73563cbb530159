"""What the shop's staff need in the product list beyond editing: thumbnails, the low-stock
filter the home page links to, and bulk withdraw/put back recorded in the audit trail."""
from auditlog.models import LogEntry as AuditEntry

from catalog.models import Product

PRODUCTS = "/admin/catalog/product/"


def test_the_list_shows_a_thumbnail_per_product(clerk_client, catalog):
    html = clerk_client.get(PRODUCTS).content.decode()

    assert html.count('class="product-thumb"') == 8
    assert '<img src="/static/img/categories/electronics.svg"' in html
    assert '<img src="/static/img/categories/software.svg"' in html


def test_the_low_stock_filter_lists_what_the_home_page_counts(clerk_client, catalog, settings):
    settings.STORE_LOW_STOCK_THRESHOLD = 10
    Product.objects.filter(public_id="prod-003").update(stock=4)
    Product.objects.filter(public_id="prod-004").update(stock=10)
    Product.objects.filter(public_id="prod-006").update(stock=0)
    Product.objects.filter(public_id="prod-005").update(stock=3, is_active=False)

    low = clerk_client.get(PRODUCTS, {"stock_level": "low", "is_active__exact": "1"})
    out = clerk_client.get(PRODUCTS, {"stock_level": "out"})

    assert [p.public_id for p in low.context["cl"].result_list] == ["prod-003", "prod-004", "prod-006"]
    assert [p.public_id for p in out.context["cl"].result_list] == ["prod-006"]
    assert "Low (10 or fewer)" in low.content.decode()


def test_bulk_withdraw_and_put_back_are_in_the_audit_trail(clerk_client, shop_staff, catalog):
    chosen = [catalog["prod-001"].pk, catalog["prod-002"].pk]
    Product.objects.filter(public_id="prod-002").update(is_active=False)

    off = clerk_client.post(PRODUCTS, {"action": "deactivate_selected", "_selected_action": chosen, "index": 0},
                            follow=True)
    assert not Product.objects.filter(pk__in=chosen, is_active=True).exists()
    on = clerk_client.post(PRODUCTS, {"action": "activate_selected", "_selected_action": chosen, "index": 0},
                           follow=True)

    assert Product.objects.filter(pk__in=chosen, is_active=True).count() == 2
    assert [str(m) for m in off.context["messages"]] == ["1 product withdrawn from sale."]
    assert [str(m) for m in on.context["messages"]] == ["2 products put back on sale."]
    entries = AuditEntry.objects.filter(actor_email=shop_staff.email).order_by("id")
    assert [(e.object_pk, e.changes_dict) for e in entries] == [
        (str(catalog["prod-001"].pk), {"is_active": ["True", "False"]}),
        (str(catalog["prod-001"].pk), {"is_active": ["False", "True"]}),
        (str(catalog["prod-002"].pk), {"is_active": ["False", "True"]}),
    ]
