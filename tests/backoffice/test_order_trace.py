"""The admin's Trace page of an order: linked from the order's page, for staff who may see orders,
every entry of the order's trace with its time, kind, words, actor and request id."""
import re

import pytest
from django.urls import reverse

from orders.models import Order
from tests.conftest import CARD_TIMEOUT_ONCE


def trace_url(order: Order) -> str:
    return reverse("admin:orders_order_trace", args=[order.pk])


def _words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def entries(html: str) -> list[dict[str, str]]:
    """Each entry of the page as a person reads it: when, its kind, what it says, who and which request."""
    found = re.findall(r'<li class="order-trace__entry" data-kind="[a-z_]+">(.*?)</li>', html, re.S)
    parts = ("when", "kind", "text", "meta")
    return [{part: _words("".join(re.findall(rf'class="order-trace__{part}[^"]*"[^>]*>(.*?)</', body, re.S)))
             for part in parts} for body in found]


@pytest.mark.usefixtures("sync_pipeline")
def test_the_order_page_links_its_trace_which_lists_each_call_with_latency_and_key(
    clerk_client, customer, place_order
):
    order = place_order(customer, card=CARD_TIMEOUT_ONCE)

    page = clerk_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert f'<a href="{trace_url(order)}">Trace</a>' in page
    response = clerk_client.get(trace_url(order))

    assert response.status_code == 200
    html = response.content.decode()
    assert f"Trace of order {order.number}" in html
    listed = entries(html)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", entry["when"]) for entry in listed)
    charges = [entry["text"] for entry in listed if entry["text"].startswith("Payment charge")]
    assert len(charges) == 2
    assert re.fullmatch(rf"Payment charge timed out in \d+ ms: .* · attempt 1 · key order-{order.pk}-charge-0", charges[0])
    assert re.fullmatch(rf"Payment charge approved in \d+ ms · attempt 2 · key order-{order.pk}-charge-0", charges[1])
    assert {"Transition", "Provider call", "Notification"} <= {entry["kind"] for entry in listed}
    delivered = next(entry for entry in listed if entry["text"].startswith("Delivered (Shipped → Delivered) · "))
    assert (delivered["kind"], delivered["meta"]) == ("Transition", "System")
    assert listed.index(delivered) > max(i for i, entry in enumerate(listed) if entry["text"] in charges)


def test_only_staff_who_may_see_orders_open_a_trace(client, make_user, order_in, customer):
    order = order_in("paid")

    assert client.get(trace_url(order)).status_code == 302  # signed out: the admin's sign-in page
    client.force_login(make_user("bare@example.com", is_staff=True))
    assert client.get(trace_url(order)).status_code == 403
    client.force_login(customer)
    assert client.get(trace_url(order)).status_code == 302


def test_a_trace_of_no_order_is_a_404(clerk_client, db):
    assert clerk_client.get("/admin/orders/order/999999/trace/").status_code == 404
