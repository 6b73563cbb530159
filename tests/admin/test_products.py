"""What the shop's staff need in the product list beyond editing: thumbnails, the low-stock
filter the home page links to, and bulk activate/deactivate recorded in the admin's log."""
from django.contrib.admin.models import CHANGE, LogEntry

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


def test_bulk_deactivate_and_activate_are_logged(clerk_client, shop_staff, catalog):
    chosen = [catalog["prod-001"].pk, catalog["prod-002"].pk]
    Product.objects.filter(public_id="prod-002").update(is_active=False)

    off = clerk_client.post(PRODUCTS, {"action": "deactivate_selected", "_selected_action": chosen, "index": 0},
                            follow=True)
    assert not Product.objects.filter(pk__in=chosen, is_active=True).exists()
    on = clerk_client.post(PRODUCTS, {"action": "activate_selected", "_selected_action": chosen, "index": 0},
                           follow=True)

    assert Product.objects.filter(pk__in=chosen, is_active=True).count() == 2
    assert [str(m) for m in off.context["messages"]] == ["Deactivated 1 product."]
    assert [str(m) for m in on.context["messages"]] == ["Activated 2 products."]
    entries = LogEntry.objects.filter(user=shop_staff, action_flag=CHANGE).order_by("id")
    assert [(e.object_id, e.get_change_message()) for e in entries] == [
        (str(catalog["prod-001"].pk), "Changed Active."),
        (str(catalog["prod-001"].pk), "Changed Active."),
        (str(catalog["prod-002"].pk), "Changed Active."),
    ]
