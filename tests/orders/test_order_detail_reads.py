"""One order as its owner and staff read it (GET /api/orders/{id}, the order page): the same JSON
as OrderDetailOutput declares, and a fixed number of queries whatever the order went through."""
import pytest
from django.db.models import Prefetch
from django.urls import reverse
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIRequestFactory

from orders.api.serializers import OrderDetailOutput
from orders.models import Order
from orders.selectors import lines_with_refunds
from orders.services import RefundLineRequest, order_cancel, refund_create
from tests.order_states import order_move


def declared_json(order_id: int, user) -> bytes:
    """The JSON OrderDetailOutput makes of the order, read with Django's own prefetching."""
    order = Order.objects.prefetch_related(
        Prefetch("lines", queryset=lines_with_refunds()), "refunds__lines__line", "events__actor",
    ).get(pk=order_id)
    request = APIRequestFactory().get(f"/api/orders/{order_id}")
    request.user = user
    return JSONRenderer().render(OrderDetailOutput(order, context={"request": request}).data)


@pytest.fixture
def orders_of_every_kind(order_in_state, place_order, customer, staff_user):
    """A new order, one delivered with a line refund and a refund of its shipping, one refunded in
    full, and one staff cancelled with a note for staff only."""
    delivered = order_in_state("delivered", items={"prod-001": 2, "prod-002": 1})
    line = delivered.lines.get(product_public_id="prod-001")
    refund_create(order=delivered, amount=None, reason="Scratched", actor=staff_user,
                  lines=[RefundLineRequest(line.pk, 1)])
    refund_create(order=Order.objects.get(pk=delivered.pk), amount=None, reason="Late", actor=staff_user)
    cancelled = place_order(customer)
    order_cancel(order=cancelled, actor=staff_user, note="Duplicate", customer_message="Out of stock")
    return [place_order(customer), delivered, order_move(place_order(customer), "refunded"), cancelled]


@pytest.mark.parametrize("viewer", ["customer", "staff"])
def test_an_orders_detail_is_the_json_its_serializer_declares(viewer, orders_of_every_kind, customer_api, staff_api):
    api = customer_api if viewer == "customer" else staff_api
    for order in orders_of_every_kind:
        response = api.get(f"/api/orders/{order.pk}")

        assert response.status_code == 200
        assert response.content == declared_json(order.pk, api.user)


def test_the_order_page_shows_what_each_refund_gave_back(client, customer, orders_of_every_kind):
    delivered = orders_of_every_kind[1]
    client.force_login(customer)

    page = client.get(reverse("orders:order_detail", args=[delivered.pk])).content.decode()

    assert '<th scope="row">Mechanical Keyboard<br><span class="items-table__refunded">1 of 2 refunded</span>' in page
    assert '<th scope="row">Wireless Mouse</th>' in page  # the second refund named no items
    assert "· Scratched · <span class=\"refunds__items\">1 × Mechanical Keyboard</span></li>" in page
    assert "Refunded in total: <strong>$349.97</strong> of $349.97" in page


@pytest.mark.parametrize(("refunded", "extra"), [(False, 0), (True, 2)])
def test_an_order_is_read_in_the_same_queries_whatever_its_history(
        refunded, extra, order_in_state, staff_user, customer, customer_api, client, django_assert_num_queries):
    order = order_in_state("delivered", items={"prod-001": 2, "prod-002": 1})
    if refunded:  # its refunds and their lines: two queries more
        line = order.lines.get(product_public_id="prod-001")
        refund_create(order=order, amount=None, reason="Scratched", actor=staff_user,
                      lines=[RefundLineRequest(line.pk, 1)])
    client.force_login(customer)

    # The token's user, then the order, its lines and its events.
    with django_assert_num_queries(4 + extra):
        assert customer_api.get(f"/api/orders/{order.pk}").status_code == 200
    # The session and its user, the order, its lines, its events, the orders placed again from
    # it, and the header's unread notifications.
    with django_assert_num_queries(7 + extra):
        assert client.get(reverse("orders:order_detail", args=[order.pk])).status_code == 200


def test_the_order_page_links_the_orders_placed_again_from_it(client, customer, place_order, order_in_state):
    failed = order_in_state("failed")
    again = [place_order(customer) for _ in range(2)]
    Order.objects.filter(pk__in=[order.pk for order in again]).update(retry_of=failed)
    order_move(again[0], "delivered")
    client.force_login(customer)

    page = client.get(reverse("orders:order_detail", args=[failed.pk])).content.decode()

    for order, state in zip(reversed(again), ["new", "delivered"], strict=True):
        assert (f'<li>Tried again as order <a href="/orders/{order.pk}/">{order.number}</a> ({state})</li>'
                in page)
