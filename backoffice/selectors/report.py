"""Reads for the accounts: what counts as revenue, the orders report and the orders export.

Revenue is defined once, here, and the admin's home page, the report and the CSV export all
use it: an order placed in the period that was paid (its state is one in which the shop holds
the customer's money, `REVENUE_STATES`, and the provider gave it a transaction id), counted at
its total net of what was refunded on it. Of that revenue, the shipping is the order's
shipping cost net of what refunds gave back of it (Refund.shipping_amount); the rest is the
items'. An order is counted on the day it was placed, in
the site's time zone (settings.TIME_ZONE, UTC by default). So the export of a period's orders
sums (column `revenue`) to the report's revenue for that period.
"""
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import islice

from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from orders.models import Order, OrderLine, Refund
from orders.states import PAID_STATES, OrderState

# States in which the shop holds the customer's money (net of refunds): the revenue.
REVENUE_STATES = frozenset(PAID_STATES | {OrderState.REFUNDED, OrderState.RETURNED})

MONEY = DecimalField(max_digits=12, decimal_places=2)
ZERO = Value(Decimal("0.00"), output_field=MONEY)
CENT = Decimal("0.01")
# A Delayed order may not have paid yet: revenue requires the provider's transaction id.
PAID = Q(state__in=REVENUE_STATES) & ~Q(transaction_id="")
NET = ExpressionWrapper(F("total") - F("refunded_amount"), output_field=MONEY)
# What the order's refunds gave back of its shipping (one subquery per order: a join to the
# refunds would count the order's other figures once per refund).
SHIPPING_REFUNDED = Coalesce(Subquery(
    Refund.objects.filter(order=OuterRef("pk")).order_by().values("order")
    .annotate(shipping=Sum("shipping_amount")).values("shipping")[:1], output_field=MONEY), ZERO)
SHIPPING_NET = ExpressionWrapper(F("shipping_cost") - SHIPPING_REFUNDED, output_field=MONEY)


def revenue_sum(condition: Q | None = None) -> Coalesce:
    """An aggregate: the revenue of the orders matching `condition` (all orders when None), 0.00 for none."""
    return Coalesce(Sum(NET, filter=PAID if condition is None else PAID & condition), ZERO)


def money(value: Decimal) -> Decimal:
    """An amount in cents: SQLite sums decimals with more places than the column has."""
    return value.quantize(CENT)


def period_bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """[start, end) of the days `date_from` to `date_to` (inclusive) in the current time zone."""
    zone = timezone.get_current_timezone()
    return (datetime.combine(date_from, time.min, tzinfo=zone),
            datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=zone))


# --- The report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRow:
    """One day's or one state's figures: orders placed, then money of the paid ones (USD)."""

    key: date | OrderState
    orders: int
    paid_orders: int
    gross: Decimal  # totals of the paid orders
    refunds: Decimal  # refunded on the paid orders
    revenue: Decimal  # gross - refunds
    shipping: Decimal  # of the revenue, the shipping paid and not refunded

    @property
    def items(self) -> Decimal:
        """Of the revenue, the items'."""
        return self.revenue - self.shipping


@dataclass(frozen=True)
class QuietDays:
    """Consecutive days without a single order placed: one row of the per-day table, not one each."""

    first: date
    last: date
    quiet = True  # what tells it apart from a ReportRow in a template

    @property
    def count(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True)
class OrderReport:
    date_from: date
    date_to: date
    days: list[ReportRow]  # every day of the period, oldest first, days without orders at zero
    states: list[ReportRow]  # every state that has orders in the period, in OrderState's order
    total: ReportRow  # key: date_from

    @property
    def day_rows(self) -> list[ReportRow | QuietDays]:
        """The per-day table's rows, oldest first: each day with orders, and each run of days
        without any as one QuietDays (a month of a quiet shop reads as a few rows, not 30)."""
        rows: list[ReportRow | QuietDays] = []
        for day in self.days:
            if day.orders:
                rows.append(day)
            elif rows and isinstance(rows[-1], QuietDays):
                rows[-1] = QuietDays(rows[-1].first, day.key)
            else:
                rows.append(QuietDays(day.key, day.key))
        return rows


def order_report(*, date_from: date, date_to: date) -> OrderReport:
    """Orders, revenue and refunds per day and per state for orders placed from `date_from` to
    `date_to` (inclusive). Three queries (database aggregates; SQLite and PostgreSQL)."""
    start, end = period_bounds(date_from, date_to)
    orders = Order.objects.order_by().filter(created_at__gte=start, created_at__lt=end)
    figures = {
        "orders": Count("id"),
        "paid_orders": Count("id", filter=PAID),
        "gross": Coalesce(Sum("total", filter=PAID), ZERO),
        "refunds": Coalesce(Sum("refunded_amount", filter=PAID), ZERO),
        "revenue": revenue_sum(),
        "shipping": Coalesce(Sum(SHIPPING_NET, filter=PAID), ZERO),
    }

    def amounts(row: dict) -> dict:
        return {name: money(value) if isinstance(value, Decimal) else value for name, value in row.items()}

    by_day = {row.pop("day"): amounts(row) for row in
              orders.annotate(day=TruncDate("created_at")).values("day").annotate(**figures)}
    by_state = {row.pop("state"): amounts(row) for row in orders.values("state").annotate(**figures)}
    total = amounts(orders.aggregate(**figures))
    empty = {"orders": 0, "paid_orders": 0, "gross": Decimal("0.00"), "refunds": Decimal("0.00"),
             "revenue": Decimal("0.00"), "shipping": Decimal("0.00")}
    days = [date_from + timedelta(days=n) for n in range((date_to - date_from).days + 1)]
    return OrderReport(
        date_from=date_from, date_to=date_to,
        days=[ReportRow(day, **by_day.get(day, empty)) for day in days],
        states=[ReportRow(state, **by_state[state.value]) for state in OrderState if state.value in by_state],
        total=ReportRow(date_from, **total),
    )


# --- The export --------------------------------------------------------------------------------

# One row per order line (see docs/operations.md, "Export CSV"): the order's own columns on each
# of its rows (its shipping service among them), its money on its first row only, so a column
# sums to one figure per order. Over the orders the report counts, `revenue` sums to its
# revenue, `shipping revenue` to its shipping, `refunded` to its refunds (only paid orders are
# refunded) and `revenue` + `refunded` to its gross; `subtotal`, `shipping cost` and `total`
# are each order's own, paid or not.
EXPORT_HEADER = ("order", "created (UTC)", "customer e-mail", "state",
                 "ship to: street address", "ship to: city", "ship to: state", "ship to: ZIP code",
                 "shipping service", "product id", "product", "quantity", "unit price", "line total",
                 "subtotal", "shipping cost", "total", "refunded", "revenue", "shipping refunded", "shipping revenue",
                 "payment provider", "transaction id")
EXPORT_CHUNK = 500  # orders read at a time, with their lines in one more query


def order_export_rows(queryset: QuerySet[Order]) -> Iterator[tuple]:
    """The rows of the orders CSV (EXPORT_HEADER), in the queryset's order, read in chunks of
    EXPORT_CHUNK orders: one row per line of each order (lines in the order they were added),
    amounts as Decimals in USD. `shipping service` ("standard", "express") is on every row of the
    order; `subtotal` (the items), `shipping cost` (0.00 when it shipped free), `total` (their
    sum, what the order costs or was charged, paid or not), `refunded`, `revenue` (what the order
    counts for in the report's revenue, 0.00 when it was not paid), `shipping refunded` (what its
    refunds gave back of the shipping, Refund.shipping_amount) and `shipping revenue` (of the
    revenue, the shipping: shipping cost minus shipping refunded, 0.00 when it was not paid) are
    on the order's first row and empty ("") on its others; an order without lines is one row
    with empty line columns."""
    orders = queryset.annotate(
        export_revenue=Case(When(PAID, then=NET), default=ZERO, output_field=MONEY),
        export_shipping_refunded=SHIPPING_REFUNDED,
        export_shipping_revenue=Case(When(PAID, then=SHIPPING_NET), default=ZERO, output_field=MONEY),
    ).values_list("pk", "created_at", "owner__email", "state", "ship_address", "ship_city", "ship_state",
                  "ship_zip", "shipping_service", "subtotal", "shipping_cost", "total", "refunded_amount",
                  "export_revenue", "export_shipping_refunded", "export_shipping_revenue",
                  "payment_provider", "transaction_id")
    rows = orders.iterator(chunk_size=EXPORT_CHUNK)
    while chunk := list(islice(rows, EXPORT_CHUNK)):
        lines: dict[int, list[tuple]] = defaultdict(list)
        for order_id, *line in (OrderLine.objects.filter(order_id__in=[row[0] for row in chunk])
                                .order_by("order_id", "id")
                                .values_list("order_id", "product_public_id", "name", "quantity", "unit_price")):
            lines[order_id].append(tuple(line))
        for (pk, created_at, email, state, address, city, region, zip_code, service, subtotal, shipping, total,
             refunded, revenue, shipping_refunded, shipping_revenue, provider, transaction) in chunk:
            order = (f"#{pk:06d}", created_at.astimezone(UTC).isoformat(), email, state, address, city, region,
                     zip_code, service)
            money_columns = (subtotal, shipping, total, refunded, money(revenue), money(shipping_refunded),
                             money(shipping_revenue))
            for n, (public_id, name, quantity, unit_price) in enumerate(lines[pk] or [("", "", None, None)]):
                line_total = unit_price * quantity if unit_price is not None else None
                yield (*order, public_id, name, quantity, unit_price, line_total,
                       *(money_columns if n == 0 else ("",) * len(money_columns)), provider, transaction)
