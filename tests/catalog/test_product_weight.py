"""A product's packed weight (grams, 1 to 30,000; it prices shipping): shown and set in the admin and
the API, plain ASCII digits only, and every refusal leaves the product as it was."""
import pytest

from catalog.models import Product
from tests.backoffice.test_products import PRODUCTS, change_form

RANGE = "Enter the packed weight in whole grams, from 1 to 30,000."


def test_the_seed_products_carry_plausible_packed_weights(catalog):
    weights = {public_id: product.weight_grams for public_id, product in catalog.items()}

    assert weights == {"prod-001": 1200, "prod-002": 150, "prod-003": 200, "prod-004": 1800, "prod-005": 600,
                       "prod-006": 300, "prod-007": 700, "prod-008": 50}


def test_staff_see_and_set_the_weight_in_the_admin(client, staff_user, catalog):
    client.force_login(staff_user)
    product = catalog["prod-004"]

    assert "1800" in client.get(PRODUCTS).content.decode()  # a column of the list
    response = client.post(f"{PRODUCTS}{product.pk}/change/", change_form(product, weight_grams="2100"))

    assert response.status_code == 302
    assert Product.objects.get(pk=product.pk).weight_grams == 2100


@pytest.mark.parametrize(("value", "message"), [
    ("0", RANGE), ("30001", RANGE), ("-5", "Enter a whole number."), ("１２", "Enter a whole number."),
    ("1.5", "Enter a whole number."), ("", "This field is required."),
])
def test_the_admin_refuses_a_weight_out_of_range_or_not_plain_digits(client, staff_user, catalog, value, message):
    client.force_login(staff_user)
    product = catalog["prod-004"]

    response = client.post(f"{PRODUCTS}{product.pk}/change/", change_form(product, weight_grams=value))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["weight_grams"] == [message]
    assert Product.objects.get(pk=product.pk).weight_grams == 1800


def test_every_product_in_the_api_carries_its_weight(api_client, catalog):
    listed = {item["id"]: item["weightGrams"] for item in api_client.get("/api/products").json()}

    assert listed["prod-001"] == 1200 and listed["prod-008"] == 50
    assert api_client.get("/api/products/prod-002").json()["weightGrams"] == 150


def test_staff_set_the_weight_through_the_api(staff_api, catalog):
    created = staff_api.post("/api/products", {"name": "Desk Lamp", "price": "39.00", "category": "Electronics",
                                               "weightGrams": 1400}, format="json")
    defaulted = staff_api.post("/api/products", {"name": "Webcam", "price": "59.00", "category": "Electronics"},
                               format="json")
    changed = staff_api.patch("/api/products/prod-005", {"weightGrams": "650"}, format="json")

    assert (created.status_code, created.json()["weightGrams"]) == (201, 1400)
    assert defaulted.json()["weightGrams"] == 500
    assert (changed.status_code, changed.json()["weightGrams"]) == (200, 650)
    assert Product.objects.get(public_id="prod-005").weight_grams == 650


@pytest.mark.parametrize(("value", "message"), [
    (0, RANGE), (30_001, RANGE), ("１２", "A valid integer is required."), ("12.5", "A valid integer is required."),
    (None, "This field may not be null."),
])
def test_the_api_refuses_a_weight_out_of_range_or_not_plain_digits(staff_api, catalog, value, message):
    response = staff_api.patch("/api/products/prod-005", {"weightGrams": value}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"weightGrams": [message]}
    assert Product.objects.get(public_id="prod-005").weight_grams == 600
