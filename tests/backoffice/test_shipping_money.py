"""Staff see the split of an order's money (items, shipping, total) on its page, in the report
and in the CSV export, and refund the shipping explicitly from the order page: once."""
import csv
import io
import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from orders.models import Order, Refund
from orders.services import RefundLineRequest, refund_create
from tests.refund_pages import refund_previewed_and_confirmed

pytestmark = pytest.mark.django_db

SHIPPING = Decimal("12.40")
EXPORT = "/admin/orders/order/export/"
REPORT = "/admin/orders/order/report/"


def priced(order: Order, *, day: date | None = None) -> Order:
    """The order as checkout would have priced it: express, $12.40, arriving Jan 2–Jan 3, 2030."""
    changes = {"created_at": datetime(day.year, day.month, day.day, 12, tzinfo=UTC)} if day else {}
    Order.objects.filter(pk=order.pk).update(
        shipping_service="express", shipping_cost=SHIPPING, total=order.subtotal + SHIPPING,
        delivery_earliest=date(2030, 1, 2), delivery_latest=date(2030, 1, 3), **changes)
    return Order.objects.get(pk=order.pk)


def shown(html: str, field: str) -> str:
    """The text of read-only field `field` on an admin page."""
    match = re.search(rf'class="(?:flex-container fieldBox|form-row) field-{field}">.*?<div class="readonly">(.*?)</div>',
                      html, re.S)
    assert match, field
    return match.group(1).strip()


def texts(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def refund_url(order: Order) -> str:
    return reverse("admin:orders_order_refund", args=[order.pk])


def test_the_order_page_shows_items_shipping_and_total(clerk_client, order_in):
    order = priced(order_in("paid", items={"prod-001": 2}))
    refund_create(order=order, amount=None, reason="Late", actor=None, shipping=True)

    html = clerk_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    assert shown(html, "subtotal_money") == "$299.98"
    assert shown(html, "shipping_money") == "Express, $12.40, arriving Jan 2–Jan 3 ($12.40 refunded)"
    assert shown(html, "total_money") == "$312.38"
    assert shown(html, "refundable") == "$299.98"
    assert re.findall(r'<td class="field-shipping_money">\s*<p>(.*?)</p>', html) == ["$12.40"]  # the refund's row


def test_an_order_placed_before_shipping_had_a_price_reads_free_on_its_page(clerk_client, order_in):
    order = order_in("paid")
    Order.objects.filter(pk=order.pk).update(delivery_earliest=None, delivery_latest=None)

    html = clerk_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    assert shown(html, "shipping_money") == "Standard, Free"


def test_the_report_splits_revenue_into_items_and_shipping(clerk_client, order_in):
    nov1 = date(2026, 11, 1)
    paid = priced(order_in("paid", items={"prod-001": 2}), day=nov1)  # 299.98 + 12.40
    refunded = priced(order_in("paid", items={"prod-003": 1}), day=nov1)  # all refunded
    refund_create(order=refunded, amount=None, reason="Changed their mind", actor=None)
    late = priced(order_in("delivered", items={"prod-002": 1}), day=nov1)  # its shipping refunded
    refund_create(order=late, amount=None, reason="Late", actor=None, shipping=True)
    priced(order_in("awaiting_approval", items={"prod-001": 2}), day=nov1)  # not paid: no revenue

    response = clerk_client.get(REPORT, {"date_from": "2026-11-01", "date_to": "2026-11-01"})

    total = response.context["report"].total
    assert total.revenue == paid.total + late.subtotal
    assert (total.items, total.shipping) == (paid.subtotal + late.subtotal, SHIPPING)
    (day,) = response.context["report"].days
    assert day.shipping == SHIPPING
    html = response.content.decode()
    assert '<td data-figure="items">$349.97</td>' in html
    assert '<td data-figure="shipping">$12.40</td>' in html


def test_the_export_gives_subtotal_shipping_and_total_once_per_order(clerk_client, order_in):
    order = priced(order_in("paid", items={"prod-001": 2, "prod-002": 1}))

    response = clerk_client.get(EXPORT)

    body = b"".join(response.streaming_content).decode()
    first, second = csv.DictReader(io.StringIO(body))
    columns = ("shipping service", "subtotal", "shipping cost", "total")
    assert tuple(first[name] for name in columns) == ("express", "349.97", "12.40", "362.37")
    # The service is the order's own column, on each of its rows; its money is on its first row only.
    assert tuple(second[name] for name in columns) == ("express", "", "", "")
    assert first["order"] == second["order"] == order.number


def test_staff_refund_the_shipping_from_the_order_page_once(refunder_client, order_in):
    order = priced(order_in("delivered", items={"prod-001": 2}))
    page = refunder_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert 'data-shipping-price="12.40"' in page and "Also refund shipping ($12.40)" in page

    # The amount the shipping's box sets (admin_refund.js), or staff type without script.
    preview = refunder_client.post(refund_url(order), {
        "amount": "12.40", "initial-amount": "312.38", "reason": "Arrived late", "shipping": "on",
        "idempotency_key": uuid.uuid4().hex})
    confirmation = preview.content.decode()
    assert "Refund $12.40 on order" in confirmation
    assert "give back <strong>$12.40</strong> of it for the shipping (Express) and $0.00 for the items" in confirmation
    assert f"We refunded $12.40 for order {order.number}: shipping ($12.40)." in confirmation

    done = refund_previewed_and_confirmed(refunder_client, refund_url(order), {
        "amount": "12.40", "initial-amount": "312.38", "reason": "Arrived late", "shipping": "on",
        "idempotency_key": uuid.uuid4().hex})
    assert texts(done) == [f"Refunded $12.40 on order {order.number} ($299.98 left to refund)."]
    (refund,) = Refund.objects.filter(order=order)
    assert (refund.amount, refund.shipping_amount) == (SHIPPING, SHIPPING)
    page = refunder_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "Also refund shipping" not in page  # nothing of it left to offer

    again = refund_previewed_and_confirmed(refunder_client, refund_url(order), {
        "amount": "299.98", "initial-amount": "299.98", "reason": "Arrived late", "shipping": "on",
        "idempotency_key": uuid.uuid4().hex})
    assert texts(again) == [f"No refund: The shipping of order {order.number} ($12.40) was refunded already; "
                            "it is refunded once."]
    assert Refund.objects.filter(order=order).count() == 1


def test_a_line_refund_from_the_page_gives_back_items_and_says_the_shipping_stays(refunder_client, order_in):
    order = priced(order_in("delivered", items={"prod-001": 2}))
    line = order.lines.get()
    data = {"amount": "312.38", "initial-amount": "312.38", "reason": "Scratched", f"line_{line.pk}": "1",
            "idempotency_key": uuid.uuid4().hex}

    confirmation = refunder_client.post(refund_url(order), data).content.decode()
    assert "give back items only: the shipping ($12.40) stays to refund" in confirmation
    refund_previewed_and_confirmed(refunder_client, refund_url(order), data)

    (refund,) = Refund.objects.filter(order=order)
    assert (refund.amount, refund.shipping_amount) == (Decimal("149.99"), Decimal("0.00"))


def test_units_and_the_shipping_together(refunder_client, order_in):
    order = priced(order_in("delivered", items={"prod-001": 2}))
    line = order.lines.get()

    refund_previewed_and_confirmed(refunder_client, refund_url(order), {
        "amount": "312.38", "initial-amount": "312.38", "reason": "Broken and late", f"line_{line.pk}": "1",
        "shipping": "on", "idempotency_key": uuid.uuid4().hex})

    (refund,) = Refund.objects.filter(order=order)
    assert (refund.amount, refund.shipping_amount) == (Decimal("162.39"), SHIPPING)
    assert list(refund.lines.values_list("quantity", flat=True)) == [1]
    assert Order.objects.get(pk=order.pk).refundable_amount == Decimal("149.99")
    # What is left, refunded in full, is items only.
    rest = refund_create(order=order, amount=None, reason="Rest", actor=None,
                         lines=[RefundLineRequest(line.pk, 1)]).refund
    assert (rest.amount, rest.shipping_amount) == (Decimal("149.99"), Decimal("0.00"))


def test_the_box_with_the_proposed_amount_left_untouched_refunds_what_the_page_showed(refunder_client, order_in):
    order = priced(order_in("delivered", items={"prod-001": 2}))
    data = {"amount": "312.38", "initial-amount": "312.38", "reason": "Never arrived", "shipping": "on",
            "idempotency_key": uuid.uuid4().hex}

    confirmation = refunder_client.post(refund_url(order), data).content.decode()
    assert "Refund $312.38 on order" in confirmation  # without script: the amount in the field
    assert "give back <strong>$12.40</strong> of it for the shipping (Express) and $299.98 for the items" in confirmation
    done = refund_previewed_and_confirmed(refunder_client, refund_url(order), data)

    assert texts(done) == [f"Refunded $312.38 on order {order.number}: the order is refunded in full."]
    (refund,) = Refund.objects.filter(order=order)
    assert (refund.amount, refund.shipping_amount) == (Decimal("312.38"), SHIPPING)


def test_a_line_refund_after_an_amount_refund_never_gives_back_shipping(refunder_client, order_in):
    order = priced(order_in("delivered", items={"prod-001": 2}))  # 2 × $149.99 + $12.40
    line = order.lines.get()
    refund_create(order=order, amount=Decimal("160.00"), reason="Goodwill", actor=None)  # items: $139.98 left
    data = {"amount": "152.38", "initial-amount": "152.38", "reason": "Scratched", f"line_{line.pk}": "1",
            "idempotency_key": uuid.uuid4().hex}

    refused = refund_previewed_and_confirmed(refunder_client, refund_url(order), data)
    assert texts(refused) == [f"No refund: Only $139.98 of the items of order {order.number} is left to refund "
                              "(refunds of amounts gave back the rest); a refund of units can be $139.98 or less."]
    assert Refund.objects.filter(order=order).count() == 1

    refund_previewed_and_confirmed(refunder_client, refund_url(order), {**data, "amount": "139.98"})
    refund = Refund.objects.filter(order=order).latest("id")
    assert (refund.amount, refund.shipping_amount) == (Decimal("139.98"), Decimal("0.00"))
    assert Order.objects.get(pk=order.pk).refundable_amount == SHIPPING  # the shipping, still to refund


def test_the_exports_columns_sum_to_the_reports_figures(clerk_client, order_in):
    nov1 = date(2026, 11, 1)
    priced(order_in("paid", items={"prod-001": 2}), day=nov1)
    refunded = priced(order_in("paid", items={"prod-003": 1}), day=nov1)
    refund_create(order=refunded, amount=None, reason="Changed their mind", actor=None)
    straddled = priced(order_in("delivered", items={"prod-001": 1, "prod-002": 1}), day=nov1)
    refund_create(order=straddled, amount=Decimal("200.00"), reason="Damaged", actor=None)
    late = priced(order_in("delivered", items={"prod-002": 1}), day=nov1)
    refund_create(order=late, amount=None, reason="Late", actor=None, shipping=True)
    priced(order_in("awaiting_approval", items={"prod-001": 2}), day=nov1)  # not paid

    report = clerk_client.get(REPORT, {"date_from": "2026-11-01", "date_to": "2026-11-01"}).context["report"].total
    body = b"".join(clerk_client.get(EXPORT, {"created_at__gte": "2026-11-01",
                                              "created_at__lt": "2026-11-02"}).streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))

    def column(name: str) -> Decimal:
        return sum((Decimal(row[name]) for row in rows if row[name]), Decimal("0.00"))

    assert len({row["order"] for row in rows}) == report.orders == 5
    assert column("revenue") == report.revenue
    assert column("shipping revenue") == report.shipping
    assert column("revenue") - column("shipping revenue") == report.items
    assert column("refunded") == report.refunds
    assert column("revenue") + column("refunded") == report.gross
    assert column("shipping refunded") == sum(Refund.objects.values_list("shipping_amount", flat=True))
    unpaid = next(row for row in rows if row["state"] == "awaiting_approval")
    assert (unpaid["shipping cost"], unpaid["shipping refunded"], unpaid["shipping revenue"]) == ("12.40", "0.00", "0.00")
