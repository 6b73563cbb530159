"""What the shop's staff need in the product list beyond editing: thumbnails, the low-stock
filter the home page links to, and bulk withdraw/put back recorded in the audit trail."""
import pytest
from auditlog.models import LogEntry as AuditEntry

from catalog.models import Product

PRODUCTS = "/admin/catalog/product/"


def test_the_list_shows_a_thumbnail_per_product(clerk_client, catalog):
    html = clerk_client.get(PRODUCTS).content.decode()

    assert html.count('class="product-thumb"') == 8
    assert '<img src="/static/img/products/keyboard.svg"' in html
    assert '<img src="/static/img/products/ide-license.svg"' in html


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
    assert "Low (at its own threshold, else 10 or fewer)" in low.content.decode()


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


def change_form(product: Product, **changes) -> dict:
    form = {"public_id": product.public_id, "name": product.name, "category": product.category_id,
            "description": product.description, "image": product.image, "price": str(product.price),
            "stock": str(product.stock), "initial-stock": str(product.stock),
            "weight_grams": str(product.weight_grams), "is_active": "on"}
    return {**form, **changes}


def test_a_stock_edit_orders_overtook_is_refused_whole_and_can_be_repeated(client, staff_user, catalog, customer,
                                                                          place_order):
    client.force_login(staff_user)
    product = catalog["prod-001"]  # the page shows 50
    seen = change_form(product)
    place_order(customer, {"prod-001": 3})  # meanwhile: 47

    response = client.post(f"{PRODUCTS}{product.pk}/change/", {**seen, "stock": "60", "name": "Renamed"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "Orders moved the stock from 50 to 47 while you edited; nothing was saved." in html
    assert 'name="initial-stock" value="47"' in html
    after = Product.objects.get(pk=product.pk)
    assert (after.stock, after.name) == (47, "Mechanical Keyboard")  # the 3 reserved units kept, nothing saved
    # From the page as it is now, the edit goes through.
    again = client.post(f"{PRODUCTS}{product.pk}/change/", {**change_form(after), "stock": "60"})
    assert again.status_code == 302
    assert Product.objects.get(pk=product.pk).stock == 60
    entry = AuditEntry.objects.filter(additional_data__action="stock_set").get()
    assert (entry.actor_email, entry.changes_dict) == (staff_user.email, {"stock": ["47", "60"]})


def test_a_stock_edit_submitted_twice_is_made_once(client, staff_user, catalog):
    client.force_login(staff_user)
    product = catalog["prod-002"]
    form = {**change_form(product), "stock": str(product.stock + 10)}

    first = client.post(f"{PRODUCTS}{product.pk}/change/", form)
    second = client.post(f"{PRODUCTS}{product.pk}/change/", form)

    assert (first.status_code, second.status_code) == (302, 302)
    assert Product.objects.get(pk=product.pk).stock == product.stock + 10


def test_list_editing_refuses_a_stock_edit_orders_overtook(client, staff_user, catalog, customer, place_order):
    client.force_login(staff_user)
    product = catalog["prod-002"]
    rows = list(client.get(PRODUCTS).context["cl"].result_list)
    form = {"form-TOTAL_FORMS": str(len(rows)), "form-INITIAL_FORMS": str(len(rows)), "_save": "Save"}
    for index, row in enumerate(rows):
        form.update({f"form-{index}-id": str(row.pk), f"form-{index}-price": str(row.price),
                     f"form-{index}-stock": str(row.stock), f"initial-form-{index}-stock": str(row.stock),
                     f"form-{index}-is_active": "on"})
    index = [row.pk for row in rows].index(product.pk)
    form[f"form-{index}-stock"] = str(product.stock - 10)
    form[f"form-{index}-price"] = "1.00"
    place_order(customer, {"prod-002": 2})

    response = client.post(PRODUCTS, form)

    assert response.status_code == 200
    assert "Orders moved the stock from" in response.content.decode()
    after = Product.objects.get(pk=product.pk)
    assert (after.stock, after.price) == (product.stock - 2, product.price)


@pytest.mark.parametrize("initial", [None, "", "abc", "1e2", "-" + "9" * 30, "٥٠"])
def test_a_page_without_a_readable_stock_it_showed_is_out_of_date(client, staff_user, catalog, initial):
    client.force_login(staff_user)
    product = catalog["prod-003"]
    form = {**change_form(product), "stock": str(product.stock + 1)}
    if initial is None:
        del form["initial-stock"]
    else:
        form["initial-stock"] = initial

    response = client.post(f"{PRODUCTS}{product.pk}/change/", form)

    assert response.status_code == 200
    assert "This page is out of date: reload it and edit the stock again." in response.content.decode()
    assert Product.objects.get(pk=product.pk).stock == product.stock


@pytest.mark.parametrize("stock", ["2147483648", "٥", "1_0", "+5"])
def test_stock_beyond_what_the_column_holds_or_not_plain_digits_is_refused(client, staff_user, catalog, stock):
    client.force_login(staff_user)
    product = catalog["prod-004"]

    response = client.post(f"{PRODUCTS}{product.pk}/change/", {**change_form(product), "stock": stock})

    assert response.status_code == 200
    assert Product.objects.get(pk=product.pk).stock == product.stock


@pytest.mark.parametrize(("field", "value"), [
    ("low_stock_threshold", "٥"), ("low_stock_threshold", "1_0"), ("low_stock_threshold", "+5"),
    ("low_stock_threshold", "2147483648"), ("price", "١٢.٥٠"), ("price", "1_2.50"), ("price", "１２.５０"),
])
def test_other_numbers_of_a_product_are_plain_ascii_too(client, staff_user, catalog, field, value):
    client.force_login(staff_user)
    product = catalog["prod-004"]

    response = client.post(f"{PRODUCTS}{product.pk}/change/", {**change_form(product), field: value})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field]
    after = Product.objects.get(pk=product.pk)
    assert (after.price, after.low_stock_threshold) == (product.price, product.low_stock_threshold)
