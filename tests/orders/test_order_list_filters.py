"""GET /api/orders' filters: customer, state (several), createdFrom/createdTo; 400 for anything
else or any bad value; a customer's own list only ever narrows."""
from datetime import UTC, datetime

import pytest

from orders.models import Order


def at(order: Order, when: str) -> Order:
    Order.objects.filter(pk=order.pk).update(created_at=datetime.fromisoformat(when).replace(tzinfo=UTC))
    return order


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()]


@pytest.fixture
def orders(order_in_state, customer, other_customer):
    """Casey's paid, cancelled and new orders and Oscar's paid one, placed on four days."""
    return {
        "casey-paid": at(order_in_state("paid", user=customer), "2026-11-30T23:59:59"),
        "casey-cancelled": at(order_in_state("cancelled", user=customer), "2026-12-01T00:00:00"),
        "casey-new": at(order_in_state("new", user=customer), "2026-12-02T23:59:59"),
        "oscar-paid": at(order_in_state("paid", user=other_customer), "2026-12-03T00:00:00"),
    }


def test_staff_find_a_customers_orders_by_e_mail_in_any_case(staff_api, orders):
    response = staff_api.get("/api/orders", {"customer": "Customer@EXAMPLE.com"})

    assert ids(response) == [orders["casey-new"].pk, orders["casey-cancelled"].pk, orders["casey-paid"].pk]
    assert response["X-Total-Count"] == "3"


def test_staff_find_a_customers_orders_by_user_id(staff_api, orders, other_customer):
    assert ids(staff_api.get("/api/orders", {"customer": str(other_customer.pk)})) == [orders["oscar-paid"].pk]


def test_a_customer_nobody_is_has_no_orders(staff_api, orders):
    assert ids(staff_api.get("/api/orders", {"customer": "nobody@example.com"})) == []
    assert ids(staff_api.get("/api/orders", {"customer": "999999"})) == []


@pytest.mark.parametrize("query", ["state=paid&state=cancelled", "state=paid,cancelled", "state=paid, cancelled,"])
def test_several_states_repeated_or_comma_separated(staff_api, orders, query):
    assert ids(staff_api.get(f"/api/orders?{query}")) == [
        orders["oscar-paid"].pk, orders["casey-cancelled"].pk, orders["casey-paid"].pk]


def test_one_state_still_filters(staff_api, orders):
    assert ids(staff_api.get("/api/orders?state=new")) == [orders["casey-new"].pk]


def test_created_from_and_to_are_inclusive_days(staff_api, orders):
    response = staff_api.get("/api/orders", {"createdFrom": "2026-12-01", "createdTo": "2026-12-02"})

    assert ids(response) == [orders["casey-new"].pk, orders["casey-cancelled"].pk]
    assert ids(staff_api.get("/api/orders", {"createdFrom": "2026-12-03"})) == [orders["oscar-paid"].pk]
    assert ids(staff_api.get("/api/orders", {"createdTo": "2026-11-30"})) == [orders["casey-paid"].pk]
    assert ids(staff_api.get("/api/orders", {"createdFrom": "2026-12-02", "createdTo": "2026-12-02"})) == [
        orders["casey-new"].pk]


def test_filters_combine(staff_api, orders):
    response = staff_api.get("/api/orders?customer=customer@example.com&state=paid,new&createdFrom=2026-12-01")

    assert ids(response) == [orders["casey-new"].pk]


def test_filters_keep_pagination(staff_api, orders):
    response = staff_api.get("/api/orders", {"customer": "customer@example.com", "pageSize": "2", "page": "2"})

    assert ids(response) == [orders["casey-paid"].pk]
    assert response["X-Total-Count"] == "3"
    assert "customer=customer%40example.com" in response["Link"]


def test_an_unknown_parameter_is_refused_by_name_not_ignored(staff_api, orders):
    response = staff_api.get("/api/orders", {"email": "customer@example.com"})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "unknown_parameter"
    assert set(body["fields"]) == {"email"}
    assert body["error"].startswith("Unknown query parameter email: GET /api/orders takes customer, state, ")


def test_several_unknown_parameters_are_all_named(staff_api, orders):
    response = staff_api.get("/api/orders?status=paid&sort=total&state=paid")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"sort", "status"}


@pytest.mark.parametrize(("query", "parameter"), [
    ("state=bogus", "state"),
    ("state=paid,bogus", "state"),
    ("customer=casey", "customer"),
    ("customer=12a", "customer"),
    ("customer=%D9%A1%D9%A2", "customer"),  # Arabic-Indic digits
    ("customer=99999999999999999999999", "customer"),
    ("customer=casey%00@example.com", "customer"),  # a NUL: PostgreSQL refuses it in a query
    ("customer=casey%07@example.com", "customer"),
    ("customer=1&customer=2", "customer"),
    ("createdFrom=2026-13-01", "createdFrom"),
    ("createdFrom=12/01/2026", "createdFrom"),
    ("createdFrom=20261201", "createdFrom"),
    ("createdFrom=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-12-01", "createdFrom"),  # full-width digits
    ("createdTo=yesterday", "createdTo"),
    ("createdTo=2026-02-30", "createdTo"),
    ("createdFrom=2026-12-02&createdTo=2026-12-01", "createdFrom"),
    ("createdTo=9999-12-31", "createdTo"),  # its end, the next day, is past the calendar
    ("createdFrom=0001-01-01", "createdFrom"),
])
def test_bad_values_are_a_400_naming_the_parameter(staff_api, orders, query, parameter):
    response = staff_api.get(f"/api/orders?{query}")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == {parameter}
    assert parameter in body["error"]


@pytest.mark.parametrize("query", [
    "createdFrom=&createdTo=", "createdFrom=", "createdTo=", "createdFrom=%20", "customer=", "customer=%20%20",
    "state=", "state=,", "state=%20,%20", "state=paid&state=", "page=", "pageSize=", "pageSize=%20",
])
def test_an_empty_value_is_a_400_naming_the_parameter(staff_api, orders, query):
    response = staff_api.get(f"/api/orders?{query}")

    assert response.status_code == 400
    body = response.json()
    parameter = query.split("=")[0]
    assert body["code"] == "invalid"
    assert list(body["fields"]) == [parameter]
    assert f"{parameter} is empty: give it a value or leave the parameter out." in body["error"]


def test_a_customer_never_sees_anothers_orders_through_the_filters(customer_api, orders, other_customer):
    mine = [orders["casey-new"].pk, orders["casey-cancelled"].pk, orders["casey-paid"].pk]

    assert ids(customer_api.get("/api/orders")) == mine
    assert ids(customer_api.get("/api/orders", {"customer": "other@example.com"})) == []
    assert ids(customer_api.get("/api/orders", {"customer": str(other_customer.pk)})) == []
    assert ids(customer_api.get("/api/orders", {"state": "paid"})) == [orders["casey-paid"].pk]
    assert ids(customer_api.get("/api/orders", {"createdFrom": "2026-12-03"})) == []
    assert ids(customer_api.get("/api/orders", {"customer": "customer@example.com", "state": "new"})) == [
        orders["casey-new"].pk]


def test_a_customers_own_list_refuses_unknown_parameters_too(customer_api, orders):
    response = customer_api.get("/api/orders", {"owner": "other@example.com"})

    assert response.status_code == 400
    assert response.json()["fields"] == {"owner": "Not a parameter of this list."}


@pytest.mark.django_db
def test_the_schema_documents_the_filters(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    parameters = {p["name"]: p for p in schema["paths"]["/api/orders"]["get"]["parameters"]}
    assert set(parameters) == {"customer", "state", "createdFrom", "createdTo", "page", "pageSize"}
    assert parameters["state"]["schema"]["type"] == "array"
    assert "paid" in parameters["state"]["schema"]["items"]["enum"]
    assert parameters["createdFrom"]["schema"] == {"type": "string", "format": "date"}
    assert "e-mail" in parameters["customer"]["description"]
