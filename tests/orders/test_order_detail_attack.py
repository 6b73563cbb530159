"""One order as everyone reads it: the JSON order_detail_data builds is OrderDetailOutput's in every
state, for the owner, staff with and without the view permission, after a write and its replay;
another customer's order is not found anywhere; the page names the customer, whoever reads it; and
an order with many lines, events and refunds costs the queries a small one does."""
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders.models import Order, OrderEvent, OrderLine
from orders.services import RefundLineRequest, refund_create
from orders.states import OrderState
from tests.conftest import _jwt_client
from tests.orders.test_api import post_order
from tests.orders.test_order_detail_reads import declared_json

STATES = [state.value for state in OrderState]


@pytest.mark.parametrize("state", STATES)
def test_every_state_reads_as_declared_for_owner_and_staff(state, order_in_state, customer_api, staff_api, shop_staff):
    order = order_in_state(state)
    for api in (customer_api, staff_api, _jwt_client(shop_staff)):
        response = api.get(f"/api/orders/{order.pk}")
        assert response.status_code == 200, response.content
        assert response.content == declared_json(order.pk, api.user)


def test_odd_values_read_as_declared(order_in_state, customer_api, staff_api, staff_user):
    order = order_in_state("delivered", items={"prod-001": 1})
    refund_create(order=order, amount=Decimal("0.10"), reason="A dime", actor=staff_user)
    Order.objects.filter(pk=order.pk).update(delivery_earliest=None, delivery_latest=None, estimated_delivery=None,
                                             failure_reason="Ünïcode ✓", card_last4="")
    OrderEvent.objects.create(order=order, detail={"note": "staff only", "dismissed": True})
    OrderEvent.objects.create(order=order, event_type="order.x", detail={"amount": "1.5"})
    for api in (customer_api, staff_api):
        response = api.get(f"/api/orders/{order.pk}")
        assert response.content == declared_json(order.pk, api.user)


def test_another_customers_order_is_not_found_everywhere(order_in_state, other_customer, client, other_api):
    order = order_in_state("paid")
    client.force_login(other_customer)
    assert other_api.get(f"/api/orders/{order.pk}").status_code == 404
    assert client.get(reverse("orders:order_detail", args=[order.pk])).status_code == 404
    assert client.get(reverse("orders:order_status", args=[order.pk])).status_code == 404
    assert client.get(reverse("orders:order_status", args=[order.pk]), {"since": "0-0"}).status_code == 404


def test_staff_see_a_customers_order_only_with_the_view_permission(order_in_state, make_user, client):
    order = order_in_state("paid")
    clerk = make_user("noperm@example.com", name="Nora Clerk", is_staff=True)
    client.force_login(clerk)
    assert _jwt_client(clerk).get(f"/api/orders/{order.pk}").status_code == 404
    assert client.get(reverse("orders:order_detail", args=[order.pk])).status_code == 404
    assert client.get(reverse("orders:order_status", args=[order.pk])).status_code == 404
    assert client.get(reverse("admin:orders_order_change", args=[order.pk])).status_code in (302, 403)

    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))
    clerk = type(clerk).objects.get(pk=clerk.pk)
    client.force_login(clerk)
    api = _jwt_client(clerk)
    assert api.get(f"/api/orders/{order.pk}").content == declared_json(order.pk, clerk)
    page = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    assert "Casey Customer<br>" in page and "Nora Clerk<br>" not in page
    assert client.get(reverse("orders:order_status", args=[order.pk])).status_code == 200
    assert client.get(reverse("admin:orders_order_change", args=[order.pk])).status_code == 200


def test_staff_reading_a_customers_order_see_the_customers_name(order_in_state, staff_user, client):
    order = order_in_state("paid")
    client.force_login(staff_user)
    page = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    assert "Casey Customer<br>" in page
    assert "Sam Staff<br>" not in page


def test_a_refunded_order_with_many_rows_reads_as_declared(order_in_state, customer_api, staff_user):
    order = order_in_state("delivered", items={"prod-001": 3, "prod-002": 3})
    for line in Order.objects.get(pk=order.pk).lines.all():
        refund_create(order=Order.objects.get(pk=order.pk), amount=None, reason="Broken", actor=staff_user,
                      lines=[RefundLineRequest(line.pk, 1)])
    response = customer_api.get(f"/api/orders/{order.pk}")
    assert response.content == declared_json(order.pk, customer_api.user)


def test_posts_answer_the_declared_detail(catalog, customer_api, staff_api, order_in_state):
    first = post_order(customer_api, **{"Idempotency-Key": "k1"})
    again = post_order(customer_api, **{"Idempotency-Key": "k1"})
    assert first.status_code == 201 and again.status_code in (200, 201)
    order_id = first.json()["id"]
    assert again.content == declared_json(order_id, customer_api.user)
    cancelled = staff_api.post(f"/api/orders/{order_id}/cancel", {"note": "dup", "customerMessage": "Sorry"},
                               format="json")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.content == declared_json(order_id, staff_api.user)
    delivered = order_in_state("delivered")
    refunded = staff_api.post(f"/api/orders/{delivered.pk}/refund", {"amount": "0.10", "reason": "Dime"},
                              format="json", headers={"Idempotency-Key": "r1"})
    replay = staff_api.post(f"/api/orders/{delivered.pk}/refund", {"amount": "0.10", "reason": "Dime"},
                            format="json", headers={"Idempotency-Key": "r1"})
    assert refunded.status_code in (200, 201), refunded.content
    assert replay.content == refunded.content == declared_json(delivered.pk, staff_api.user)
    assert customer_api.get(f"/api/orders/{delivered.pk}").content == declared_json(delivered.pk, customer_api.user)


def _queries(request) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert request().status_code in (200, 286)
    return len(queries)


def _reads(order, customer, staff_user, client, customer_api, staff_api) -> dict:
    counts = {}
    for who, api in (("customer", customer_api), ("staff", staff_api)):
        counts[f"api {who}"] = _queries(lambda api=api: api.get(f"/api/orders/{order.pk}"))
    for who, user in (("customer", customer), ("staff", staff_user)):
        client.force_login(user)
        counts[f"page {who}"] = _queries(lambda: client.get(reverse("orders:order_detail", args=[order.pk])))
        counts[f"poll {who}"] = _queries(lambda: client.get(reverse("orders:order_status", args=[order.pk])))
    return counts


def test_a_big_order_is_read_in_as_many_queries_as_a_small_one(order_in_state, customer, staff_user, client,
                                                               customer_api, staff_api):
    small = order_in_state("delivered", items={"prod-001": 2})
    refund_create(order=small, amount=None, reason="r", actor=staff_user,
                  lines=[RefundLineRequest(small.lines.get().pk, 1)])
    big = order_in_state("delivered", items={"prod-001": 1})
    line = big.lines.get()
    OrderLine.objects.bulk_create(OrderLine(order=big, product_id=line.product_id, name=f"Line {i}",
                                            product_public_id=line.product_public_id, unit_price=line.unit_price,
                                            quantity=2) for i in range(49))
    extra = line.unit_price * 98
    Order.objects.filter(pk=big.pk).update(subtotal=big.subtotal + extra, total=big.total + extra)
    OrderEvent.objects.bulk_create(OrderEvent(order=big, event_type="order.noted", actor=staff_user,
                                              actor_kind="staff") for _ in range(40))
    for part in list(big.lines.all())[:5]:
        refund_create(order=Order.objects.get(pk=big.pk), amount=None, reason="r", actor=staff_user,
                      lines=[RefundLineRequest(part.pk, 1)])

    assert (_reads(big, customer, staff_user, client, customer_api, staff_api)
            == _reads(small, customer, staff_user, client, customer_api, staff_api))
