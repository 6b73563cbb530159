"""/api/products: the public catalog and staff-only management."""
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Product
from tests.catalog.factories import products_add

KEYBOARD = {
    "id": "prod-001",
    "name": "Mechanical Keyboard",
    "description": "A tenkeyless mechanical keyboard with hot-swappable tactile switches, PBT keycaps and a "
    "detachable USB-C cable.",
    "price": 149.99,
    "category": "Electronics",
    "image": "/static/img/products/keyboard.svg",
    "stock": 50,
    "state": "active",
    "weightGrams": 1200,
}


def ids(response) -> list[str]:
    return [product["id"] for product in response.json()]


def test_list_is_a_plain_array_of_products_in_id_order(api_client, catalog):
    response = api_client.get("/api/products")

    assert response.status_code == 200
    body = response.json()
    assert body[0] == KEYBOARD
    assert ids(response) == [f"prod-00{n}" for n in range(1, 9)]
    assert response["X-Total-Count"] == "8"


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("Electronics", ["prod-001", "prod-002", "prod-003"]),
        ("electronics", ["prod-001", "prod-002", "prod-003"]),
        ("home-office", ["prod-004", "prod-007"]),
        ("HOME OFFICE", ["prod-004", "prod-007"]),
        ("Gardening", []),
    ],
)
def test_list_filters_by_category_name_or_slug(api_client, catalog, category, expected):
    assert ids(api_client.get("/api/products", {"category": category})) == expected


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("wireless", ["prod-002"]),
        ("mouse", ["prod-002", "prod-005"]),  # the desk mat's description mentions the mouse
        ("USB-C", ["prod-001", "prod-003"]),
        ("licence", ["prod-008"]),
        ("zzz", []),
    ],
)
def test_list_searches_names_and_descriptions(api_client, catalog, search, expected):
    assert ids(api_client.get("/api/products", {"search": search})) == expected


def test_filters_combine(api_client, catalog):
    response = api_client.get("/api/products", {"category": "electronics", "search": "usb"})

    assert ids(response) == ["prod-001", "prod-003"]


def test_list_is_paginated_with_headers(api_client, catalog):
    response = api_client.get("/api/products", {"page": 2, "pageSize": 3})

    assert ids(response) == ["prod-004", "prod-005", "prod-006"]
    assert response["X-Total-Count"] == "8"
    links = {
        rel.strip().removeprefix('rel="').removesuffix('"'): parse_qs(urlsplit(url.strip(" <>")).query)
        for url, rel in (link.split(";") for link in response["Link"].split(","))
    }
    assert links == {
        "next": {"page": ["3"], "pageSize": ["3"]},
        "prev": {"pageSize": ["3"]},  # page 1 is the default
        "first": {"page": ["1"], "pageSize": ["3"]},
        "last": {"page": ["3"], "pageSize": ["3"]},
    }


def test_a_page_past_the_end_is_404(api_client, catalog):
    response = api_client.get("/api/products", {"page": 9})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("param", ["page", "pageSize"])
@pytest.mark.parametrize("value", ["\u0662", "\uff12", "\u00b2", "2.0", "+2", "1_0", " 2", "2\n", "1e400", "last", "0",
                                   "abc"])
def test_page_and_page_size_take_plain_ascii_digits_only(api_client, catalog, param, value):
    """Arabic-Indic "٢" and full-width "２" are numbers to Python's int(), not to the API."""
    response = api_client.get("/api/products", {param: value})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == {param}
    assert param in body["error"]


@pytest.mark.parametrize("query", ["category=", "category=%20", "search=", "search=%20%20", "page=", "pageSize=",
                                   "category=software&search="])
def test_an_empty_filter_or_page_value_is_a_400_naming_it(api_client, catalog, query):
    response = api_client.get(f"/api/products?{query}")

    assert response.status_code == 400
    body = response.json()
    parameter = query.split("&")[-1].split("=")[0]
    assert body["code"] == "invalid"
    assert body["fields"] == {parameter: [f"{parameter} is empty: give it a value or leave the parameter out."]}
    assert parameter in body["error"]


@pytest.mark.parametrize(("query", "unknown"), [
    ("q=shirt", {"q"}), ("limit=5", {"limit"}), ("ordering=-price", {"ordering"}),
    ("minPrice=10&category=software", {"minPrice"}), ("q=a&limit=5&page=1", {"limit", "q"}),
])
def test_an_unknown_parameter_is_refused_by_name_not_ignored(api_client, catalog, query, unknown):
    response = api_client.get(f"/api/products?{query}")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "unknown_parameter"
    assert body["fields"] == {name: "Not a parameter of this list." for name in unknown}
    assert body["error"] == (f"Unknown query parameter{'s' if len(unknown) > 1 else ''} {', '.join(sorted(unknown))}: "
                             "GET /api/products takes category, search, page, pageSize.")


def test_the_orders_list_refuses_other_scripts_digits_too(customer_api):
    response = customer_api.get("/api/orders", {"pageSize": "\uff12"})

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"pageSize"}


def test_withdrawn_products_are_not_listed_or_shown_to_the_public(api_client, catalog):
    Product.objects.filter(public_id="prod-002").update(is_active=False)

    assert "prod-002" not in ids(api_client.get("/api/products"))
    assert api_client.get("/api/products/prod-002").status_code == 404


def test_one_product(api_client, catalog):
    response = api_client.get("/api/products/prod-001")

    assert response.status_code == 200
    assert response.json() == KEYBOARD


def test_an_unknown_product_is_404_with_error_and_code(api_client, catalog):
    response = api_client.get("/api/products/prod-999")

    assert response.status_code == 404
    assert response.json() == {"error": "No product with id 'prod-999'.", "code": "not_found"}


def test_the_list_runs_a_constant_number_of_queries(api_client, catalog):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = api_client.get("/api/products", {"pageSize": 100})
        assert response.status_code == 200
        return len(queries)

    with_8 = count_queries()
    products_add(22)
    assert len(api_client.get("/api/products", {"pageSize": 100}).json()) == 30
    assert count_queries() == with_8


def test_a_product_id_with_a_nul_character_is_not_found_rather_than_a_crash(api_client, catalog):
    """PostgreSQL refuses a NUL in a text value: the id names no product, a 404 like any other."""
    response = api_client.get("/api/products/prod-001%00")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_first_page_reads_one_page_of_products_however_big_the_catalog(api_client, catalog):
    """GET /api/products with no query string asks the database for a page of rows (and the total),
    never the whole catalog: its cost for the database and the process does not grow with the
    number of products."""
    products_add(30)

    with CaptureQueriesContext(connection) as queries:
        response = api_client.get("/api/products")

    assert len(response.json()) == 20 and response["X-Total-Count"] == "38"
    rows_read = [query["sql"] for query in queries
                 if '"catalog_product"' in query["sql"] and "COUNT(" not in query["sql"].upper()]
    assert rows_read and all("LIMIT 20" in sql for sql in rows_read), rows_read
    same = api_client.get("/api/products?page=1")
    assert response.content == same.content
    assert (response["X-Total-Count"], response["Link"]) == (same["X-Total-Count"], same["Link"])


# --- staff management ---------------------------------------------------------------

NEW = {"name": "Standing Desk", "description": "Up and down.", "price": "499.00", "category": "home office", "stock": 5}


def test_staff_create_a_product_in_a_category_given_by_name(staff_api, api_client, catalog):
    response = staff_api.post("/api/products", NEW, format="json")

    assert response.status_code == 201
    assert response.json() == {
        "id": "prod-009",
        "name": "Standing Desk",
        "description": "Up and down.",
        "price": 499.0,
        "category": "Home Office",
        "image": "/static/img/categories/home-office.svg",
        "stock": 5,
        "state": "active",
        "weightGrams": 500,
    }
    assert api_client.get("/api/products/prod-009").json()["name"] == "Standing Desk"


def test_staff_may_choose_the_id_but_not_a_taken_one(staff_api, catalog):
    assert staff_api.post("/api/products", {**NEW, "id": "desk-1"}, format="json").json()["id"] == "desk-1"

    response = staff_api.post("/api/products", {**NEW, "id": "prod-001"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category": "Gardening"}, "category"),
        ({"price": "-1"}, "price"),
        ({"stock": -3}, "stock"),
        ({"image": "missing-picture"}, "image"),
        ({"name": ""}, "name"),
    ],
)
def test_create_names_the_wrong_field(staff_api, catalog, change, field):
    response = staff_api.post("/api/products", {**NEW, **change}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {field}
    assert not Product.objects.filter(name="Standing Desk").exists()


def test_staff_patch_changes_only_the_given_fields(staff_api, catalog):
    response = staff_api.patch("/api/products/prod-002", {"price": "44.50", "category": "accessories"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["price"], body["category"]) == (44.5, "Accessories")
    assert (body["stock"], body["name"]) == (120, "Wireless Mouse")


def test_staff_delete_withdraws_the_product_and_can_bring_it_back(staff_api, api_client, catalog):
    response = staff_api.delete("/api/products/prod-003")

    assert response.status_code == 204
    assert Product.objects.filter(public_id="prod-003", is_active=False).exists()
    assert api_client.get("/api/products/prod-003").status_code == 404
    assert staff_api.get("/api/products/prod-003").json()["state"] == "inactive"

    assert staff_api.patch("/api/products/prod-003", {"state": "active"}, format="json").json()["state"] == "active"
    assert api_client.get("/api/products/prod-003").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [("post", "/api/products", NEW), ("patch", "/api/products/prod-001", {"price": "1.00"}),
     ("delete", "/api/products/prod-001", None)],
)
def test_writes_are_staff_only(api_client, customer_api, catalog, method, path, data):
    anonymous = getattr(api_client, method)(path, data, format="json")
    customer = getattr(customer_api, method)(path, data, format="json")

    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    assert (customer.status_code, customer.json()["code"]) == (403, "permission_denied")
    assert Product.objects.get(public_id="prod-001").price == catalog["prod-001"].price
    assert Product.objects.filter(is_active=True).count() == 8


def test_staff_writes_to_an_unknown_product_are_404(staff_api, catalog):
    assert staff_api.patch("/api/products/prod-999", {"price": "1.00"}, format="json").status_code == 404
    assert staff_api.delete("/api/products/prod-999").status_code == 404


@pytest.mark.django_db
def test_the_schema_documents_products(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    listing = schema["paths"]["/api/products"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"category", "search", "page", "pageSize"}
    ref = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert schema["components"]["schemas"][ref] == {"type": "array", "items": {"$ref": "#/components/schemas/Product"}}
    assert set(schema["paths"]["/api/products/{public_id}"]) == {"get", "patch", "delete"}
