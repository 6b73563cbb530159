"""Bad input is a 4xx in the API's error shape and writes nothing: bodies too large or nested too
deep, and digits of other scripts where the shop reads ASCII digits."""
import json

import pytest

from orders.models import Order
from tests.conftest import CARD_APPROVE, SHIPPING

pytestmark = pytest.mark.django_db


def order_body(**changes) -> dict:
    body = {"items": [{"productId": "prod-002", "quantity": 1}], "shipping": dict(SHIPPING),
            "payment": {"card": CARD_APPROVE}}
    for key, value in changes.items():
        if key == "zip":
            body["shipping"]["zip"] = value
        elif key == "card":
            body["payment"]["card"] = value
        elif key == "quantity":
            body["items"][0]["quantity"] = value
    return body


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/orders", "/api/products"])
def test_a_body_nested_too_deep_is_a_json_400_for_anyone(api_client, customer_api, path, catalog):
    for depth in (40, 1000, 100_000):
        body = "[" * depth + "]" * depth
        for client in (api_client, customer_api):
            response = client.post(path, body, content_type="application/json")
            assert response.status_code in (400, 401, 403), (path, depth, response.status_code)
            assert response["Content-Type"] == "application/json"
            assert response.json()["code"] in ("parse_error", "not_authenticated", "permission_denied")
    response = customer_api.post("/api/orders", "[" * 1000 + "]" * 1000, content_type="application/json")
    assert response.json() == {"error": "The JSON body is nested deeper than 32 levels.", "code": "parse_error"}


def test_a_body_over_the_limit_is_a_json_413(api_client, settings):
    body = json.dumps({"email": "a@example.com", "password": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})

    response = api_client.post("/api/auth/login", body, content_type="application/json")

    assert response.status_code == 413
    assert response.json() == {"error": f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} "
                                        "bytes.", "code": "payload_too_large"}


@pytest.mark.parametrize(("change", "field"), [
    ({"zip": "٦٢٧٠١"}, "zip"),                      # Arabic-Indic
    ({"zip": "６２７０１"}, "zip"),                   # full-width
    ({"card": "４２４２ ４２４２ ４２４２ ４２４２"}, "card"),
    ({"quantity": "٣"}, "quantity"),
    ({"quantity": "3\n"}, "quantity"),                # a regex's "$" would let the newline through
])
def test_digits_of_other_scripts_are_refused_and_nothing_is_placed(customer_api, catalog, change, field):
    response = customer_api.post("/api/orders", order_body(**change), format="json")

    assert response.status_code == 400
    assert field in json.dumps(response.json()["fields"])
    assert Order.objects.count() == 0


def test_the_same_digits_in_ascii_place_an_order(customer_api, catalog):
    response = customer_api.post("/api/orders", order_body(zip="62701", quantity=3), format="json")

    assert response.status_code == 201, response.json()


def test_refund_amounts_and_product_numbers_take_ascii_digits_only(staff_api, catalog):
    assert staff_api.patch("/api/products/prod-001", {"price": "١٠.٠٠"}, format="json").status_code == 400
    assert staff_api.patch("/api/products/prod-001", {"stock": "٥", "expectedStock": "50"},
                           format="json").status_code == 400
    assert staff_api.patch("/api/products/prod-001", {"price": "10.00", "stock": "5", "expectedStock": "50"},
                           format="json").status_code == 200


def test_a_total_larger_than_an_order_holds_is_refused_and_writes_nothing(customer_api, catalog):
    from catalog.models import Product

    Product.objects.filter(public_id__in=["prod-001", "prod-002"]).update(price="99999999.99", stock=1000)
    body = {"items": [{"productId": "prod-001", "quantity": 99}, {"productId": "prod-002", "quantity": 99}],
            "shipping": dict(SHIPPING)}

    response = customer_api.post("/api/orders", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == ("An order can total at most $9,999,999,999.99; "
                                        "this one would be $19,799,999,998.02.")
    assert Order.objects.count() == 0
    assert set(Product.objects.filter(public_id__in=["prod-001", "prod-002"]).values_list("stock", flat=True)) == {1000}
    assert customer_api.get("/api/orders").status_code == 200


def test_an_expected_total_that_the_prices_no_longer_make_is_a_409(customer_api, catalog):
    price = catalog["prod-002"].price

    stale = customer_api.post("/api/orders", {**order_body(), "expectedTotal": str(price - 1)}, format="json")
    fresh = customer_api.post("/api/orders", {**order_body(), "expectedTotal": str(price)}, format="json")

    assert stale.status_code == 409
    assert stale.json()["code"] == "price_changed"
    assert stale.json()["error"] == f"The total is now ${price:,} (was ${price - 1:,})."
    assert fresh.status_code == 201
    assert Order.objects.count() == 1

