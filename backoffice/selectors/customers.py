"""Reads for the admin's customer page: a customer's orders, spend, addresses, declined payments
and staff's notes. Staff only: nothing here is ever shown to a customer. Each is a constant
number of queries whatever the customer's history.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, ExpressionWrapper, F, Max, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from backoffice.selectors.report import CENT, MONEY, NET, REVENUE_STATES, ZERO
from backoffice.selectors.report import PAID as CHARGED
from orders.models import Order, OrderEvent
from orders.selectors import StaffNoteEntry, customer_staff_notes
from orders.states import DECLINE_TRANSITIONS


@dataclass(frozen=True)
class ShippingAddressUsed:
    """One distinct shipping address of the customer's orders."""

    address: str
    city: str
    state: str
    zip: str
    orders: int
    last_used: datetime

    def __str__(self) -> str:
        return f"{self.address}, {self.city}, {self.state} {self.zip}"


@dataclass(frozen=True)
class DeclinedPayment:
    """An order of the customer whose payment was declined at least once (it may have been paid later)."""

    order: Order
    declines: int
    last_declined_at: datetime
    reason: str


@dataclass(frozen=True)
class CustomerSummary:
    """What the admin's customer page shows; money in USD (Decimal, 2 places).

    `lifetime_spend` is `paid` less `refunded`: see `customer_summary`.
    """

    customer: object
    orders: list[Order]
    order_count: int
    paid: Decimal
    refunded: Decimal
    lifetime_spend: Decimal
    account_age: timedelta
    addresses: list[ShippingAddressUsed]
    declined: list[DeclinedPayment]
    notes: list[StaffNoteEntry]


def customer_list(queryset: QuerySet) -> QuerySet:
    """Accounts with `order_count` and `lifetime_spend` (as `customer_summary` counts it), one query."""
    charged = Q(orders__state__in=REVENUE_STATES) & ~Q(orders__transaction_id="")
    net = ExpressionWrapper(F("orders__total") - F("orders__refunded_amount"), output_field=MONEY)
    return queryset.annotate(order_count=Count("orders"), lifetime_spend=Coalesce(Sum(net, filter=charged), ZERO))


def customer_summary(*, customer, now: datetime | None = None) -> CustomerSummary:
    """The customer's orders (newest first, with item counts), money, addresses, declines and notes.

    Lifetime spend: over the customer's orders that the payment provider charged (a
    transaction id) and that are paid or went on from there (paid, shipping, shipped,
    shipping failed, delivered, Delayed after payment, refunded), the sum of each order's
    total (`paid`) less the sum of what was refunded on those orders, partial refunds and full
    ones (`refunded`). Orders never charged (new, cancelled, failed, still paying, payment
    failed) count nothing. The same rule as the admin home page's revenue.

    Account age: `now` less the account's `date_joined`. Six queries.
    """
    now = now or timezone.now()
    orders = list(
        Order.objects.filter(owner=customer).annotate(item_count=Sum("lines__quantity")).order_by("-created_at", "-id")
    )
    money = Order.objects.filter(owner=customer).aggregate(
        paid=Coalesce(Sum("total", filter=CHARGED), ZERO),
        refunded=Coalesce(Sum("refunded_amount", filter=CHARGED), ZERO),
        spend=Coalesce(Sum(NET, filter=CHARGED), ZERO),
    )
    addresses = [
        ShippingAddressUsed(row["ship_address"], row["ship_city"], row["ship_state"], row["ship_zip"],
                            row["orders"], row["last_used"])
        for row in Order.objects.filter(owner=customer).order_by()
        .values("ship_address", "ship_city", "ship_state", "ship_zip")
        .annotate(orders=Count("id"), last_used=Max("created_at"))
        .order_by("-last_used", "ship_address")
    ]
    return CustomerSummary(
        customer=customer,
        orders=orders,
        order_count=len(orders),
        # Sums of expressions come back from SQLite with float-like digits: cents, as everywhere.
        paid=money["paid"].quantize(CENT),
        refunded=money["refunded"].quantize(CENT),
        lifetime_spend=money["spend"].quantize(CENT),
        account_age=now - customer.date_joined,
        addresses=addresses,
        declined=_declined_payments(customer, {order.pk: order for order in orders}),
        notes=customer_staff_notes(customer=customer),
    )


def _declined_payments(customer, orders: dict[int, Order]) -> list[DeclinedPayment]:
    declines = (OrderEvent.objects.filter(order__owner=customer, transition__in=DECLINE_TRANSITIONS)
                .order_by("created_at", "id").values_list("order_id", "created_at", "detail"))
    seen: dict[int, list] = {}
    for order_id, at, detail in declines:
        count = seen[order_id][0] + 1 if order_id in seen else 1
        seen[order_id] = [count, at, (detail or {}).get("reason", "")]  # the latest decline's reason wins
    return sorted((DeclinedPayment(orders[order_id], count, at, reason) for order_id, (count, at, reason)
                   in seen.items() if order_id in orders), key=lambda d: d.last_declined_at, reverse=True)
