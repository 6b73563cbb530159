"""Every text field of the API takes a JSON string and nothing else: a number, true/false, a
list or an object is a 400 naming the field, and nothing is written."""
import pytest
from rest_framework import serializers

from accounts.api import serializers as account_serializers
from accounts.models import Address
from catalog.api import serializers as catalog_serializers
from catalog.models import Product
from orders.api import serializers as order_serializers
from orders.models import Order
from store.api import pagination
from store.api.fields import StrictText
from tests.conftest import SHIPPING

pytestmark = pytest.mark.django_db

NOT_STRINGS = {"number": 0, "decimal": 12.5, "bool": True, "list": ["Casey"], "object": {"name": "Casey"}}
SAID = {"number": "a number", "decimal": "a number", "bool": "true or false", "list": "a list", "object": "an object"}
ADDRESS = {"label": "Home", **SHIPPING}
PRODUCT = {"name": "Webcam", "price": 49.99, "category": "Electronics", "stock": 3}


def refused(response, *path: str, kind: str) -> None:
    """A 400 in the API's error shape whose `fields` name the field at `path`."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    messages = body["fields"]
    for name in path:
        messages = messages[name]
    assert messages == [f"Not a valid string: send text in quotes, not {SAID[kind]}."]
    assert f"{path[0]}: " in body["error"]


@pytest.mark.parametrize("kind", NOT_STRINGS)
def test_the_profile_name_must_be_a_string(customer_api, customer, kind):
    response = customer_api.patch("/api/auth/profile", {"name": NOT_STRINGS[kind]}, format="json")

    refused(response, "name", kind=kind)
    customer.refresh_from_db()
    assert customer.name == "Casey Customer"


@pytest.mark.parametrize("kind", NOT_STRINGS)
def test_sign_up_and_sign_in_fields_must_be_strings(api_client, customer, kind):
    value = NOT_STRINGS[kind]
    register = api_client.post("/api/auth/register", {"email": "new@example.com", "password": value,
                                                      "name": "New Customer"}, format="json")
    login = api_client.post("/api/auth/login", {"email": value, "password": "whatever"}, format="json")

    refused(register, "password", kind=kind)
    refused(login, "email", kind=kind)


@pytest.mark.parametrize("kind", NOT_STRINGS)
def test_an_address_of_the_book_must_be_strings(customer_api, kind):
    response = customer_api.post("/api/addresses", {**ADDRESS, "zip": NOT_STRINGS[kind]}, format="json")

    refused(response, "zip", kind=kind)
    assert not Address.objects.exists()


@pytest.mark.parametrize("kind", NOT_STRINGS)
def test_an_order_s_nested_text_fields_must_be_strings(customer_api, catalog, kind):
    value = NOT_STRINGS[kind]
    city = customer_api.post("/api/orders", {"items": [{"productId": "prod-002", "quantity": 1}],
                                             "shipping": {**SHIPPING, "city": value}}, format="json")
    product = customer_api.post("/api/orders", {"items": [{"productId": value, "quantity": 1}],
                                                "shipping": SHIPPING}, format="json")
    card = customer_api.post("/api/orders", {"items": [{"productId": "prod-002", "quantity": 1}],
                                             "shipping": SHIPPING, "payment": {"card": value}}, format="json")

    refused(city, "shipping", "city", kind=kind)
    assert product.status_code == 400 and product.json()["fields"]["items"]["0"]["productId"] == [
        f"Not a valid string: send text in quotes, not {SAID[kind]}."]
    refused(card, "payment", "card", kind=kind)
    assert not Order.objects.exists()


@pytest.mark.parametrize("kind", NOT_STRINGS)
def test_staff_product_and_note_fields_must_be_strings(staff_api, order_in_state, catalog, kind):
    value = NOT_STRINGS[kind]
    order = order_in_state("paid")
    product = staff_api.post("/api/products", {**PRODUCT, "name": value}, format="json")
    state = staff_api.patch("/api/products/prod-001", {"state": value}, format="json")
    note = staff_api.post(f"/api/orders/{order.pk}/notes", {"text": value}, format="json")
    refund = staff_api.post(f"/api/orders/{order.pk}/refund", {"reason": value}, format="json")

    refused(product, "name", kind=kind)
    refused(state, "state", kind=kind)
    refused(note, "text", kind=kind)
    refused(refund, "reason", kind=kind)
    assert Product.objects.count() == 8 and Product.objects.get(public_id="prod-001").is_active
    assert order.staff_notes.count() == 0 and order.refunds.count() == 0


def test_text_that_looks_like_a_number_is_still_text(customer_api, customer):
    response = customer_api.patch("/api/auth/profile", {"name": "0"}, format="json")

    assert response.status_code == 200 and response.json()["name"] == "0"
    customer.refresh_from_db()
    assert customer.name == "0"


def _serializer_classes(base=serializers.Serializer):
    for cls in base.__subclasses__():
        yield cls
        yield from _serializer_classes(cls)


def _text_fields(serializer, path=()):
    for name, field in serializer.fields.items():
        if isinstance(field, serializers.ListSerializer):
            field = field.child
        if isinstance(field, serializers.Serializer):
            yield from _text_fields(field, (*path, name))
        elif isinstance(field, serializers.CharField | serializers.ChoiceField) and not field.read_only:
            yield ".".join((*path, name)), field


def test_every_text_field_the_api_reads_is_strict():
    modules = {module.__name__ for module in (account_serializers, catalog_serializers, order_serializers,
                                              pagination)}
    classes = [cls for cls in _serializer_classes() if cls.__module__ in modules]
    checked = {f"{cls.__name__}.{name}": field for cls in classes for name, field in _text_fields(cls())}

    assert len(checked) >= 30  # the API's inputs were found
    assert [name for name, field in checked.items() if not isinstance(field, StrictText)] == []
