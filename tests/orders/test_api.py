"""/api/orders: the API contract, bad input, ownership, staff actions."""
import pytest

from catalog.models import Product
from orders.models import Order
from orders.services import order_transition
from tests.conftest import SHIPPING
from tests.order_states import order_move


def body(**overrides):
    data = {"items": [{"productId": "prod-001", "quantity": 2}], "shipping": dict(SHIPPING),
            "payment": {"card": "4242 4242 4242 4242"}}
    data.update(overrides)
    return data


def post_order(client, data=None, **headers):
    return client.post("/api/orders", data if data is not None else body(), format="json", headers=headers)


def test_place_order_returns_the_order_in_state_new(customer_api, catalog):
    response = post_order(customer_api, body(items=[{"productId": "prod-001", "quantity": 2, "price": 0.01,
                                                     "name": "Free keyboard"}]))
    assert response.status_code == 201, response.json()
    order = response.json()
    assert order["state"] == "new"
    line_id = order["items"][0]["lineId"]
    assert order["items"] == [{"lineId": line_id, "productId": "prod-001", "name": "Mechanical Keyboard",
                               "price": 149.99, "quantity": 2, "refundedQuantity": 0}]
    assert order["total"] == 299.98
    assert order["shipping"] == SHIPPING
    assert order["payment"]["cardLast4"] == "4242"
    assert order["refundedAmount"] == 0
    assert order["timeline"][0]["event"] == "order.created"
    assert {"createdAt", "updatedAt", "shipment", "id"} <= set(order)


def test_orders_require_a_token(api_client, catalog):
    response = post_order(api_client)
    assert response.status_code == 401
    assert set(response.json()) == {"error", "code"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (body(items=[]), "items"),
        (body(items=[{"productId": f"prod-00{i % 8 + 1}", "quantity": 1} for i in range(51)]), "items"),
        (body(items=[{"productId": "prod-001", "quantity": 0}]), "items"),
        (body(items=[{"productId": "prod-001", "quantity": 100}]), "items"),
        (body(items=[{"productId": "prod-001", "quantity": "2"}]), "items"),
        (body(items=[{"productId": "prod-001", "quantity": 1.5}]), "items"),
        (body(items=[{"productId": "prod-999", "quantity": 1}]), "items"),
        (body(shipping={"address": "1 Main", "city": "X", "state": "CA"}), "shipping"),
        (body(shipping={**SHIPPING, "city": "x" * 101}), "shipping"),
        (body(shipping={**SHIPPING, "zip": "ABCDE"}), "shipping"),
        (body(payment={"card": "4242 4242 4242 4241"}), "payment"),
    ],
    ids=["no-items", "51-lines", "quantity-0", "quantity-100", "quantity-string", "quantity-float",
         "unknown-product", "missing-zip", "long-city", "bad-zip", "luhn"],
)
def test_bad_input_is_a_400_with_fields(customer_api, catalog, data, field):
    response = post_order(customer_api, data)
    assert response.status_code == 400, response.json()
    payload = response.json()
    assert payload["code"] == "invalid" and payload["error"]
    assert field in payload["fields"]
    assert not Order.objects.exists()


def test_not_enough_stock_is_a_409_naming_the_product(customer_api, catalog):
    Product.objects.filter(public_id="prod-001").update(stock=1)
    response = post_order(customer_api)
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_stock"
    assert "Mechanical Keyboard" in response.json()["error"]


def test_idempotency_key_replay_and_mismatch(customer_api, catalog):
    first = post_order(customer_api, **{"Idempotency-Key": "abc"})
    again = post_order(customer_api, **{"Idempotency-Key": "abc"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    other = post_order(customer_api, body(items=[{"productId": "prod-002", "quantity": 1}]), **{"Idempotency-Key": "abc"})
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_another_customers_order_is_a_404(customer_api, other_api, catalog):
    order_id = post_order(customer_api).json()["id"]
    assert customer_api.get(f"/api/orders/{order_id}").status_code == 200
    for response in (other_api.get(f"/api/orders/{order_id}"), other_api.post(f"/api/orders/{order_id}/cancel")):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_list_shows_own_orders_newest_first_with_pagination(customer_api, other_api, catalog):
    ids = [post_order(customer_api).json()["id"] for _ in range(3)]
    post_order(other_api)
    response = customer_api.get("/api/orders?pageSize=2")
    assert response.status_code == 200
    assert [o["id"] for o in response.json()] == ids[::-1][:2]
    assert response["X-Total-Count"] == "3"
    assert 'rel="next"' in response["Link"]


def test_the_order_list_takes_page_and_page_size_in_ascii_digits_only(customer_api, catalog):
    post_order(customer_api)
    for query in ("page=%D9%A2", "pageSize=%EF%BC%92"):  # ?page=٢, ?pageSize=２
        response = customer_api.get(f"/api/orders?{query}")
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"
    assert customer_api.get("/api/orders?page=1&pageSize=2").status_code == 200


def test_staff_list_all_orders_by_state(staff_api, customer_api, catalog):
    order_id = post_order(customer_api).json()["id"]
    post_order(customer_api)
    order_transition(order_id=order_id, name="cancel")
    response = staff_api.get("/api/orders?state=cancelled")
    assert [o["id"] for o in response.json()] == [order_id]
    assert staff_api.get("/api/orders?state=bogus").status_code == 400


def test_cancel_new_order_and_conflict_when_not_allowed(customer_api, catalog):
    order_id = post_order(customer_api).json()["id"]
    response = customer_api.post(f"/api/orders/{order_id}/cancel")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    again = customer_api.post(f"/api/orders/{order_id}/cancel")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_state" and "cancel" in again.json()["error"]


def test_staff_actions_are_staff_only(customer_api, catalog):
    order_id = post_order(customer_api).json()["id"]
    for action in ("approve", "reject", "retry", "refund"):
        response = customer_api.post(f"/api/orders/{order_id}/{action}", {"reason": "x"}, format="json")
        assert response.status_code == 403, action


def _paid(order_id):
    order_move(Order.objects.get(pk=order_id), "paid")


def test_staff_refund_partial_then_full(staff_api, customer_api, catalog):
    order_id = post_order(customer_api).json()["id"]
    _paid(order_id)
    too_much = staff_api.post(f"/api/orders/{order_id}/refund", {"amount": 500, "reason": "x"}, format="json")
    assert too_much.status_code == 400 and "amount" in too_much.json()["fields"]
    partial = staff_api.post(f"/api/orders/{order_id}/refund", {"amount": 50, "reason": "Scratched"}, format="json")
    assert partial.status_code == 200 and partial.json()["state"] == "paid"
    assert partial.json()["refundedAmount"] == 50
    full = staff_api.post(f"/api/orders/{order_id}/refund", {"reason": "Returned"}, format="json")
    assert full.json()["state"] == "refunded" and full.json()["refundedAmount"] == 299.98
    assert [r["amount"] for r in full.json()["refunds"]] == [50.0, 249.98]


def test_staff_approve_requires_awaiting_approval(staff_api, customer_api, catalog):
    order_id = post_order(customer_api).json()["id"]
    response = staff_api.post(f"/api/orders/{order_id}/approve")
    assert response.status_code == 409


def test_staff_without_refund_permission_gets_403(make_user, jwt_client, customer_api, catalog):
    order_id = post_order(customer_api).json()["id"]
    _paid(order_id)
    clerk = make_user("clerk@example.com", is_staff=True)
    response = jwt_client(clerk).post(f"/api/orders/{order_id}/refund", {"reason": "x"}, format="json")
    assert response.status_code == 403
    assert Order.objects.get(pk=order_id).state == "paid"


def test_a_placed_order_is_answered_as_placed_when_reading_it_back_fails(transactional_db, customer_api, catalog):
    """The database goes away between the commit and the read-back (Django's execute_wrapper
    refuses every read of orders after the order's insert committed): still a 201, once."""
    from django.db import OperationalError, connection

    committed = []

    def after_commit_reads_fail(execute, sql, params, many, context):
        if sql.startswith('INSERT INTO "orders_order"'):
            committed.append(True)
        elif committed and not connection.in_atomic_block and '"orders_order"' in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(after_commit_reads_fail):
        response = post_order(customer_api)

    order = Order.objects.get()
    assert response.status_code == 201
    assert response.json()["id"] == order.pk and response.json()["number"] == order.number
    assert f"GET /api/orders/{order.pk}" in response.json()["detail"]
