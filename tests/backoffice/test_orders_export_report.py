"""The order list's CSV export and the orders report: the export holds exactly the orders the
list's filters and search show, one row per line with the shipping address, and its revenue
column sums to the report's revenue; the report charts the days and groups the quiet ones."""
import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from orders.models import Order
from orders.services import refund_create

pytestmark = pytest.mark.django_db

EXPORT = "/admin/orders/order/export/"
REPORT = "/admin/orders/order/report/"


def rows_of(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="orders-')
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def placed_on(order: Order, day: date, hour: int = 12) -> Order:
    Order.objects.filter(pk=order.pk).update(created_at=datetime(day.year, day.month, day.day, hour, tzinfo=UTC))
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def month(order_in, customer, other_customer):
    """Orders on three days of November 2026 and one in October: paid (one partly refunded, one
    refunded in full), failed, held and one still new; plus one of another customer."""
    nov1, nov2, nov3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
    paid = placed_on(order_in("paid", items={"prod-001": 2}), nov1)  # 2 × 149.99
    partly = order_in("delivered", items={"prod-002": 1})
    refund_create(order=partly, amount=Decimal("10.00"), reason="Scratched", actor=None)
    partly = placed_on(partly, nov1, hour=23)
    refunded = order_in("paid", items={"prod-003": 1})
    refund_create(order=refunded, amount=None, reason="Changed their mind", actor=None)  # in full: refunded
    refunded = placed_on(refunded, nov2)
    failed = placed_on(order_in("failed"), nov2)
    held = placed_on(order_in("awaiting_approval", items={"prod-001": 7}), nov3)
    new = placed_on(order_in("new", user=other_customer), nov3)
    october = placed_on(order_in("paid", items={"prod-002": 3}), date(2026, 10, 31), hour=23)
    return {"paid": paid, "partly": partly, "refunded": refunded, "failed": failed, "held": held, "new": new,
            "october": october}


NOVEMBER = {"created_at__gte": "2026-11-01 00:00:00+00:00", "created_at__lt": "2026-12-01 00:00:00+00:00"}


def test_the_export_holds_exactly_the_filtered_orders_with_their_figures(clerk_client, month, customer):
    rows = rows_of(clerk_client.get(EXPORT, {**NOVEMBER, "state__exact": "delivered"}))
    assert [row["order"] for row in rows] == [month["partly"].number]
    row = rows[0]
    partly = month["partly"]
    assert row == {
        "order": partly.number, "created (UTC)": "2026-11-01T23:00:00+00:00", "customer e-mail": customer.email,
        "state": "delivered", "ship to: street address": "1 Market Street", "ship to: city": "Springfield",
        "ship to: state": "IL", "ship to: ZIP code": "62701", "shipping service": "standard",
        "product id": "prod-002", "product": "Wireless Mouse", "quantity": "1", "unit price": "49.99",
        "line total": "49.99", "subtotal": "49.99", "shipping cost": "0.00", "total": str(partly.total),
        "refunded": "10.00",
        "revenue": str(partly.total - Decimal("10.00")), "shipping refunded": "0.00", "shipping revenue": "0.00",
        "payment provider": partly.payment_provider,
        "transaction id": partly.transaction_id,
    }

    by_search = rows_of(clerk_client.get(EXPORT, {"q": "other@example"}))
    assert [row["order"] for row in by_search] == [month["new"].number]
    everything = rows_of(clerk_client.get(EXPORT))
    assert sorted(row["order"] for row in everything) == sorted(order.number for order in month.values())
    # Newest first, as the list shows them.
    assert [row["order"] for row in everything][0] == month["new"].number


def test_the_exports_revenue_sums_to_the_reports_revenue_for_the_same_period(clerk_client, month):
    report = clerk_client.get(REPORT, {"date_from": "2026-11-01", "date_to": "2026-11-30"})
    assert report.status_code == 200
    figures = report.context["report"]
    rows = rows_of(clerk_client.get(report.context["export_url"]))

    assert len(rows) == figures.total.orders == 6  # October's order is outside the period (one line each)
    assert sum(Decimal(row["revenue"]) for row in rows) == figures.total.revenue
    paid, partly, refunded = month["paid"], month["partly"], month["refunded"]
    assert figures.total.revenue == paid.total + partly.total - Decimal("10.00")
    assert figures.total.refunds == Decimal("10.00") + refunded.total
    assert figures.total.gross == paid.total + partly.total + refunded.total
    assert figures.total.paid_orders == 3
    # The home page counts revenue the same way (no order today: nothing).
    assert 'data-metric="revenue-today">$0.00 revenue' in clerk_client.get("/admin/").content.decode()


def test_the_report_gives_each_day_and_each_state(clerk_client, month):
    response = clerk_client.get(REPORT, {"date_from": "2026-11-01", "date_to": "2026-11-04"})
    report = response.context["report"]
    days = {row.key.isoformat(): (row.orders, row.paid_orders, row.revenue, row.refunds) for row in report.days}
    paid, partly, refunded = month["paid"], month["partly"], month["refunded"]
    assert days == {
        "2026-11-01": (2, 2, paid.total + partly.total - Decimal("10.00"), Decimal("10.00")),
        "2026-11-02": (2, 1, Decimal("0.00"), refunded.total),
        "2026-11-03": (2, 0, Decimal("0.00"), Decimal("0.00")),
        "2026-11-04": (0, 0, Decimal("0.00"), Decimal("0.00")),
    }
    states = {row.key.value: (row.orders, row.revenue) for row in report.states}
    assert states == {
        "awaiting_approval": (1, Decimal("0.00")), "paid": (1, paid.total),
        "delivered": (1, partly.total - Decimal("10.00")), "failed": (1, Decimal("0.00")),
        "refunded": (1, Decimal("0.00")), "new": (1, Decimal("0.00")),
    }
    html = response.content.decode()
    assert '<tr data-quiet="2026-11-04">' in html
    assert 'data-state="refunded"' in html


def test_the_report_defaults_to_the_last_30_days(clerk_client, order_in):
    order_in("paid")
    report = clerk_client.get(REPORT).context["report"]
    today = date.today()
    assert (report.date_from, report.date_to) == (today - timedelta(days=29), today)
    assert report.total.orders == 1 and len(report.days) == 30


@pytest.mark.parametrize(("query", "error"), [
    ({"date_from": "2026-11-31", "date_to": "2026-12-01"}, "Enter a valid date."),
    ({"date_from": "2026-12-01", "date_to": "2026-11-01"}, "The period ends before it starts"),
    ({"date_from": "2020-01-01", "date_to": "2026-01-01"}, "at most 366 days"),
    ({"date_from": "２０２６-11-01", "date_to": "2026-11-02"}, "in ASCII digits"),
    ({"date_from": "", "date_to": "2026-11-02"}, "This field is required."),
    ({"date_from": "9999-12-31", "date_to": "9999-12-31"}, "Enter a day from 0001-01-02 to 9999-12-30."),
    ({"date_from": "0001-01-01", "date_to": "0001-01-01"}, "Enter a day from 0001-01-02 to 9999-12-30."),
])
def test_bad_dates_are_refused_with_a_form_error(clerk_client, query, error):
    response = clerk_client.get(REPORT, query)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert response.context["report"] is None


def test_the_export_defuses_spreadsheet_formulas(clerk_client, make_user, order_in):
    sly = make_user("=cmd|'/c calc'!a1@example.com", name="Sly")
    order_in("new", user=sly)
    rows = rows_of(clerk_client.get(EXPORT))
    assert rows[0]["customer e-mail"] == "'=cmd|'/c calc'!a1@example.com"


def test_an_unknown_filter_is_a_400(clerk_client):
    response = clerk_client.get(EXPORT, {"created_at__gte": "yesterday"})
    assert response.status_code == 400
    assert "Unknown filter" in response.content.decode()


def test_the_order_list_links_the_export_of_what_it_shows(clerk_client):
    html = clerk_client.get("/admin/orders/order/", {"state__exact": "paid"}).content.decode()
    assert f'href="{EXPORT}?state__exact=paid"' in html
    assert f'href="{REPORT}"' in html


@pytest.mark.parametrize("url", [EXPORT, REPORT, "/admin/orders/order/attention/"])
def test_staff_without_the_view_permission_are_refused(make_user, url):
    client = Client()
    client.force_login(make_user("bare@example.com", is_staff=True))
    assert client.get(url).status_code == 403
    assert Client().get(url).status_code == 302  # to sign in
    assert reverse("admin:login") in Client().get(url)["Location"]


def test_the_export_has_one_row_per_line_with_the_orders_money_on_its_first(clerk_client, order_in):
    order = order_in("paid", items={"prod-001": 7, "prod-002": 2})  # 7 × 149.99 + 2 × 49.99
    refund_create(order=order, amount=Decimal("9.99"), reason="Scratched", actor=None)
    rows = rows_of(clerk_client.get(EXPORT))

    assert [(row["order"], row["product id"], row["product"], row["quantity"], row["unit price"],
             row["line total"]) for row in rows] == [
        (order.number, "prod-001", "Mechanical Keyboard", "7", "149.99", "1049.93"),
        (order.number, "prod-002", "Wireless Mouse", "2", "49.99", "99.98"),
    ]
    # The address and the order's other columns on each row; its money once, so columns sum up.
    assert {(row["ship to: street address"], row["ship to: city"], row["ship to: state"], row["ship to: ZIP code"],
             row["state"], row["transaction id"]) for row in rows} == {
        ("1 Market Street", "Springfield", "IL", "62701", "paid", order.transaction_id)}
    assert [(row["total"], row["refunded"], row["revenue"]) for row in rows] == [
        ("1149.91", "9.99", "1139.92"), ("", "", "")]


def test_the_export_defuses_formulas_in_the_address(clerk_client, place_order, customer, catalog):
    order = place_order(customer)
    Order.objects.filter(pk=order.pk).update(ship_address="=HYPERLINK(\"http://x\")", ship_city="+Springfield")
    row = rows_of(clerk_client.get(EXPORT))[0]
    assert row["ship to: street address"] == "'=HYPERLINK(\"http://x\")"
    assert row["ship to: city"] == "'+Springfield"


def test_the_report_shows_money_with_its_currency_and_charts_the_days(clerk_client, order_in):
    big = placed_on(order_in("paid", items={"prod-001": 7}), date(2026, 11, 2))  # $1,049.93
    placed_on(order_in("failed"), date(2026, 11, 2), hour=13)
    placed_on(order_in("paid", items={"prod-002": 1}), date(2026, 11, 5))  # $49.99
    response = clerk_client.get(REPORT, {"date_from": "2026-11-01", "date_to": "2026-11-30"})
    html = response.content.decode()

    assert '<td data-figure="revenue">$1,099.92</td>' in html  # the totals
    assert '<td data-figure="gross">$1,049.93</td>' in html  # 2026-11-02's row (and the "paid" state's)
    assert '<td data-figure="refunds">$0.00</td>' in html
    assert str(big.total) not in html.replace("1,049.93", "")  # never the bare machine form

    # The chart: one image, named and described, one bar a day with orders in each panel.
    chart = html.index('data-chart="days"')
    svg = html[chart:html.index("</svg>", chart)]
    assert 'role="img" aria-labelledby="report-chart-title" aria-describedby="report-chart-desc"' in svg
    assert "Revenue and orders per day, 2026-11-01 to 2026-11-30</title>" in svg
    assert ("Busiest day: 2026-11-02, 2 orders and $1,049.93. 28 days without orders. "
            "The table below gives each day&#x27;s figures.</desc>") in svg
    assert svg.count("<rect") == 4
    assert "<title>2026-11-02: $1,049.93 revenue</title>" in svg
    assert "<title>2026-11-05: $49.99 revenue</title>" in svg
    assert "<title>2026-11-02: 2 orders</title>" in svg and "<title>2026-11-05: 1 order</title>" in svg
    assert ">$2,000.00</text>" in svg  # the revenue scale's top: a round figure above $1,049.93
    assert ">Nov 1</text>" in svg and ">Nov 28</text>" in svg  # days named along the axis, every third
    assert chart < html.index('aria-label="Per day"')  # the table below the chart

    # The per-day table: the days with orders, and the quiet stretches between them as one row each.
    rows = re.findall(r'<tr data-(day|quiet)="([0-9-]+)"', html)
    assert rows == [("quiet", "2026-11-01"), ("day", "2026-11-02"), ("quiet", "2026-11-03"),
                    ("day", "2026-11-05"), ("quiet", "2026-11-06")]
    assert "2026-11-06 Fri to 2026-11-30 Mon" in html and "No orders on these 25 days" in html
    assert re.search(r"<th scope=\"row\">2026-11-01 Sun</th>\s*<td colspan=\"6\" class=\"order-report__quiet\">No orders</td>", html)


def test_a_period_without_orders_has_no_chart_and_one_quiet_row(clerk_client):
    html = clerk_client.get(REPORT, {"date_from": "2026-11-01", "date_to": "2026-11-07"}).content.decode()
    assert 'data-chart="days"' not in html
    assert re.findall(r'<tr data-(day|quiet)="([0-9-]+)"', html) == [("quiet", "2026-11-01")]
    assert "No orders on these 7 days" in html


def test_a_one_day_report_describes_its_chart_in_the_singular(clerk_client, order_in):
    placed_on(order_in("paid", items={"prod-002": 1}), date(2026, 11, 5))

    html = clerk_client.get(REPORT, {"date_from": "2026-11-05", "date_to": "2026-11-05"}).content.decode()

    assert "A bar for the 1 day from 2026-11-05 to 2026-11-05: revenue above" in html
    assert "In all 1 order and $49.99 revenue." in html and "0 days without orders." in html
    assert not re.search(r"\b1 days", html)
