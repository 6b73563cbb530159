"""Every amount staff read in the admin has its currency and thousands separators ("$1,049.93"):
the order list and page, the refunds, the customers, the approval queue, the home page's cards
and the confirmation pages. (The report's are in test_orders_export_report.)"""
import re
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from orders.services import refund_create
from tests.refund_pages import hidden_fields

pytestmark = pytest.mark.django_db

SEVEN_KEYBOARDS = {"prod-001": 7}  # 7 × $149.99 = $1,049.93


def cells(html: str, field: str) -> list[str]:
    """The text of the admin's cells of column `field` (a list's or a tabular inline's)."""
    found = re.findall(rf'<td class="field-{field}">(.*?)</td>', html, re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in found]


def shown(html: str, field: str) -> str:
    """The text of read-only field `field` on an admin page."""
    match = re.search(rf'class="(?:flex-container fieldBox|form-row) field-{field}">.*?<div class="readonly">(.*?)</div>', html, re.S)
    assert match, field
    return match.group(1).strip()


@pytest.fixture
def refunded_order(order_in):
    """A delivered order of $1,049.93 of which $1,000.00 was refunded."""
    order = order_in("delivered", items=SEVEN_KEYBOARDS)
    refund_create(order=order, amount=Decimal("1000.00"), reason="Goodwill", actor=None)
    return order


def test_the_order_list_shows_totals_and_refunds_with_their_currency(clerk_client, refunded_order):
    html = clerk_client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert cells(html, "total_money") == ["$1,049.93"]
    assert cells(html, "refunded") == ["$1,000.00"]
    # Still sortable by the amounts.
    assert '<th scope="col" class="sortable column-total_money">' in html
    assert '<th scope="col" class="sortable column-refunded">' in html


def test_the_order_page_shows_its_amounts_and_lines_with_their_currency(clerk_client, refunded_order):
    html = clerk_client.get(reverse("admin:orders_order_change", args=[refunded_order.pk])).content.decode()
    assert shown(html, "total_money") == "$1,049.93"
    assert shown(html, "refunded_money") == "$1,000.00"
    assert shown(html, "refundable") == "$49.93"
    assert cells(html, "unit_price_money") == ["$149.99"]
    assert cells(html, "line_total") == ["$1,049.93"]
    assert cells(html, "amount_money") == ["$1,000.00"]  # the refunds' inline
    assert "Partial refund · $1,000.00 · reason: Goodwill" in html  # the timeline


def test_the_refund_list_shows_amounts_with_their_currency(clerk_client, refunded_order):
    html = clerk_client.get(reverse("admin:orders_refund_changelist")).content.decode()
    assert cells(html, "amount_money") == ["$1,000.00"]
    refund = refunded_order.refunds.get()
    page = clerk_client.get(reverse("admin:orders_refund_change", args=[refund.pk])).content.decode()
    assert shown(page, "amount_money") == "$1,000.00"
    assert f"Refund $1,000.00 on {refunded_order.number}" in page  # its name, in the title


def test_the_customers_list_and_page_show_spend_with_its_currency(clerk_client, customer, refunded_order,
                                                                   order_in):
    order_in("paid", items=SEVEN_KEYBOARDS)
    listing = clerk_client.get(reverse("admin:orders_customer_changelist"), {"q": customer.email}).content.decode()
    assert cells(listing, "lifetime_spend") == ["$1,099.86"]  # 1,049.93 × 2 − 1,000.00
    page = clerk_client.get(reverse("admin:orders_customer_change", args=[customer.pk])).content.decode()
    assert 'data-testid="lifetime-spend">$1,099.86<' in page
    assert 'data-testid="paid">$2,099.86<' in page
    assert 'data-testid="refunded">$1,000.00<' in page
    assert "<td>$1,049.93</td>" in page


def test_the_queue_the_home_page_and_the_confirmations_show_amounts_with_their_currency(clerk_client, order_in):
    held = order_in("awaiting_approval", items=SEVEN_KEYBOARDS)
    queue = clerk_client.get("/admin/orders/orderawaitingapproval/").content.decode()
    assert cells(queue, "amount") == ["$1,049.93"]
    reject = clerk_client.get(reverse("admin:orders_order_action", args=[held.pk, "reject"])).content.decode()
    assert "<td>$1,049.93</td>" in reject
    order_in("paid", items=SEVEN_KEYBOARDS)
    home = clerk_client.get("/admin/").content.decode()
    assert 'data-metric="revenue-today">$1,049.93 revenue' in home


def test_the_refund_form_its_confirmation_and_its_message_show_amounts_with_their_currency(refunder_client,
                                                                                             order_in):
    order = order_in("delivered", items=SEVEN_KEYBOARDS)
    form = refunder_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "Up to $1,049.93." in form and "<td>$149.99</td>" in form
    asked = {"amount": "1049.93", "reason": "Returned", "idempotency_key": uuid.uuid4().hex}
    refund_url = reverse("admin:orders_order_refund", args=[order.pk])
    confirmation = refunder_client.post(refund_url, asked).content.decode()
    assert f"Refund $1,049.93 on order {order.number}?" in confirmation
    assert "<strong>$1,049.93</strong>" in confirmation and 'value="Yes, refund $1,049.93"' in confirmation
    assert "We refunded $1,049.93 for order" in confirmation  # what the customer will read
    done = refunder_client.post(refund_url, hidden_fields(confirmation), follow=True)
    assert [str(message) for message in done.context["messages"]] == [
        f"Refunded $1,049.93 on order {order.number}: the order is refunded in full."]
