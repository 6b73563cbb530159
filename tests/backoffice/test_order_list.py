"""The order list: state badges and money columns, search by number or e-mail, filters by
state and date; and the read-only lists of notifications and gateway calls."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.services import refund_create
from providers.models import GatewayCall

ORDERS = "/admin/orders/order/"


def numbers(response) -> list[str]:
    return [order.number for order in response.context["cl"].result_list]


def test_the_list_shows_state_badges_totals_and_refunds(clerk_client, order_in):
    order = order_in("delivered")
    refund_create(order=order, amount=Decimal("20.00"), reason="Late", actor=None)

    html = clerk_client.get(ORDERS).content.decode()

    assert '<span class="state-badge state-badge--delivered">Delivered</span>' in html
    assert "299.98" in html and "20.00" in html
    assert "customer@example.com" in html


@pytest.mark.parametrize("term", ["{number}", "{pk}", "#{pk}", "  {number}  "])
def test_search_by_order_number(clerk_client, order_in, term):
    order_in("paid")
    wanted = order_in("paid")

    response = clerk_client.get(ORDERS, {"q": term.format(number=wanted.number, pk=wanted.pk)})

    assert numbers(response) == [wanted.number]


def test_search_by_customer_email(clerk_client, order_in, other_customer):
    mine = order_in("paid")
    theirs = order_in("paid", user=other_customer)

    assert numbers(clerk_client.get(ORDERS, {"q": "other@example"})) == [theirs.number]
    assert numbers(clerk_client.get(ORDERS, {"q": "customer@"})) == [mine.number]


def test_filter_by_state_and_by_date(clerk_client, order_in, make_older):
    held = order_in("awaiting_approval")
    old = make_older(order_in("paid"), days=40)
    recent = order_in("paid")
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)

    by_state = clerk_client.get(ORDERS, {"state__exact": "paid"})
    last_week = clerk_client.get(ORDERS, {"created_at__gte": str(midnight - timedelta(days=7)),
                                          "created_at__lt": str(midnight + timedelta(days=1))})  # "Past 7 days"
    by_year = clerk_client.get(ORDERS, {"created_at__year": old.created_at.year, "created_at__month":
                                        old.created_at.month, "created_at__day": old.created_at.day})

    assert sorted(numbers(by_state)) == sorted([old.number, recent.number])
    assert sorted(numbers(last_week)) == sorted([held.number, recent.number])
    assert numbers(by_year) == [old.number]


def test_notifications_and_gateway_calls_are_listed_read_only_and_found_by_order(clerk_client, order_in):
    order = order_in("paid")
    order_in("paid")  # another order's notifications are recorded too, and not found
    refund_create(order=order, amount=Decimal("5.00"), reason="Scratch", actor=None)

    notifications = clerk_client.get("/admin/notifications/notification/", {"q": order.number})
    calls = clerk_client.get("/admin/providers/gatewaycall/", {"q": order.number})
    call = GatewayCall.objects.get(order_id=order.pk, operation="refund")
    call_page = clerk_client.get(f"/admin/providers/gatewaycall/{call.pk}/change/").content.decode()

    assert sorted(n.title for n in notifications.context["cl"].result_list) == [
        f"Order {order.number} received", f"Partial refund for order {order.number}",
        f"Payment received for {order.number}"]
    assert [(c.gateway, c.operation) for c in calls.context["cl"].result_list] == [("payment", "refund")]
    assert notifications.context["has_add_permission"] is False
    assert f'href="/admin/orders/order/{order.pk}/change/"' in call_page
    assert call.result["reference"] in call_page
    assert clerk_client.get("/admin/providers/gatewaycall/add/").status_code == 403
