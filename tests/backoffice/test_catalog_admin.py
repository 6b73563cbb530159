"""Products in the admin: list editing, search, filters, and stock that orders move meanwhile."""
from decimal import Decimal

from catalog.models import Product


def change_data(product: Product, **changes) -> dict:
    """What the change form posts when staff saw `product` as it is now (initial-stock is the hidden initial)."""
    data = {
        "public_id": product.public_id,
        "name": product.name,
        "category": product.category_id,
        "description": product.description,
        "image": product.image,
        "price": str(product.price),
        "stock": product.stock,
        "initial-stock": product.stock,
        "weight_grams": product.weight_grams,
        "is_active": "on",
    }
    return {**data, **changes}


def test_the_product_list_shows_and_searches_products(client, staff_user, catalog):
    client.force_login(staff_user)

    response = client.get("/admin/catalog/product/", {"q": "prod-00"})

    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["cl"].result_count == 8
    assert 'name="form-0-price"' in html and 'name="form-0-stock"' in html and 'name="form-0-is_active"' in html
    assert 'name="initial-form-0-stock"' in html  # the stock staff saw, posted back (see the tests below)
    assert [p.public_id for p in client.get("/admin/catalog/product/", {"q": "mouse"}).context["cl"].result_list] == [
        "prod-002"
    ]


def test_the_product_list_filters_by_category_and_active(client, staff_user, catalog):
    client.force_login(staff_user)
    Product.objects.filter(public_id="prod-008").update(is_active=False)

    software = client.get("/admin/catalog/product/", {"category__id__exact": catalog["prod-008"].category_id})
    inactive = client.get("/admin/catalog/product/", {"is_active__exact": "0"})

    assert [p.public_id for p in software.context["cl"].result_list] == ["prod-008"]
    assert [p.public_id for p in inactive.context["cl"].result_list] == ["prod-008"]


def test_the_change_page_posts_back_the_stock_staff_saw(client, staff_user, catalog):
    client.force_login(staff_user)

    html = client.get(f"/admin/catalog/product/{catalog['prod-001'].pk}/change/").content.decode()

    assert '<input type="hidden" name="initial-stock" value="50"' in html


def test_the_add_form_proposes_the_next_public_id(client, staff_user, catalog):
    client.force_login(staff_user)

    html = client.get("/admin/catalog/product/add/").content.decode()

    assert 'value="prod-009"' in html


def test_a_price_edit_keeps_the_stock_that_orders_changed_meanwhile(client, staff_user, catalog):
    client.force_login(staff_user)
    seen = Product.objects.get(public_id="prod-001")
    Product.objects.filter(pk=seen.pk).update(stock=47)  # an order reserved 3 while the page was open

    response = client.post(f"/admin/catalog/product/{seen.pk}/change/", change_data(seen, price="139.99"))

    assert response.status_code == 302
    product = Product.objects.get(pk=seen.pk)
    assert (product.price, product.stock) == (Decimal("139.99"), 47)


def test_a_stock_edit_by_staff_is_saved(client, staff_user, catalog):
    client.force_login(staff_user)
    seen = Product.objects.get(public_id="prod-001")

    response = client.post(f"/admin/catalog/product/{seen.pk}/change/", change_data(seen, stock=80))

    assert response.status_code == 302
    assert Product.objects.get(pk=seen.pk).stock == 80


def test_the_category_list_counts_products(client, staff_user, catalog):
    client.force_login(staff_user)

    response = client.get("/admin/catalog/category/")

    assert response.status_code == 200
    assert {c.name: c.product_count for c in response.context["cl"].result_list} == {
        "Accessories": 2,
        "Electronics": 3,
        "Home Office": 2,
        "Software": 1,
    }


def test_the_admin_refuses_a_picture_that_does_not_exist(client, staff_user, catalog):
    client.force_login(staff_user)
    product = catalog["prod-001"]

    response = client.post(f"/admin/catalog/product/{product.pk}/change/", change_data(product, image="nope"))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "image": ["No built-in picture named 'nope': use one of accessories, cable-kit, default, desk-mat, electronics, "
                  "home-office, ide-license, keyboard, laptop-stand, light-bar, mouse, software, usb-c-hub."]
    }
    assert Product.objects.get(pk=product.pk).image == "keyboard"


def test_a_price_edit_in_the_list_keeps_the_stock_that_orders_changed_meanwhile(client, staff_user, catalog):
    client.force_login(staff_user)
    seen = Product.objects.get(public_id="prod-001")
    Product.objects.filter(pk=seen.pk).update(stock=47)

    response = client.post(
        "/admin/catalog/product/?q=prod-001",
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "1000",
            "form-0-id": seen.pk,
            "form-0-price": "139.99",
            "form-0-stock": seen.stock,
            "initial-form-0-stock": seen.stock,
            "form-0-is_active": "on",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    product = Product.objects.get(pk=seen.pk)
    assert (product.price, product.stock) == (Decimal("139.99"), 47)
