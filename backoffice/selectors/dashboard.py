"""Reads for the admin: the home page's summary, the approval queue and the Delayed list.

Kept apart from orders/selectors.py (the storefront's and the API's reads) because they
serve staff only; each is a constant number of queries whatever the data.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from backoffice.selectors.attention import failed_tasks_open_count
from backoffice.selectors.report import money, revenue_sum
from catalog.models import Product
from orders.models import Order, OrderEvent
from orders.states import OrderState
from providers import breakers
from providers.breakers import CircuitView


@dataclass(frozen=True)
class OrderWindow:
    """Orders placed in a time window and the revenue they brought (paid, net of refunds)."""

    orders: int
    revenue: Decimal


@dataclass(frozen=True)
class AdminDashboard:
    """The numbers at the top of the admin's home page."""

    orders_by_state: list[tuple[OrderState, int]]
    today: OrderWindow
    last_7_days: OrderWindow
    awaiting_approval: int
    failed_tasks: int  # not settled yet (backoffice.selectors.attention)
    low_stock_threshold: int  # the shop's; a product may have its own
    low_stock_count: int
    low_stock_products: list[Product]
    delayed: int  # orders a provider left stalled, waiting for staff to re-drive them
    circuits: list[CircuitView]


def admin_dashboard(*, now: datetime | None = None, low_stock_shown: int = 5) -> AdminDashboard:
    """Orders by state, today's and the last 7 days' orders and revenue, what needs a person.

    Six queries whatever the number of orders, tasks and products, seven once a failed task names
    an order (backoffice.selectors.attention.failed_tasks); revenue as
    backoffice.selectors.report defines it.
    """
    now = now or timezone.now()
    today_start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    week_start = now - timedelta(days=7)
    counts = dict(Order.objects.order_by().values_list("state").annotate(count=Count("id")))
    windows = Order.objects.aggregate(
        today_orders=Count("id", filter=Q(created_at__gte=today_start)),
        today_revenue=revenue_sum(Q(created_at__gte=today_start)),
        week_orders=Count("id", filter=Q(created_at__gte=week_start)),
        week_revenue=revenue_sum(Q(created_at__gte=week_start)),
    )
    threshold = settings.STORE_LOW_STOCK_THRESHOLD
    low_stock = product_low_stock()
    return AdminDashboard(
        orders_by_state=[(state, counts.get(state.value, 0)) for state in OrderState],
        today=OrderWindow(windows["today_orders"], money(windows["today_revenue"])),
        last_7_days=OrderWindow(windows["week_orders"], money(windows["week_revenue"])),
        awaiting_approval=counts.get(OrderState.AWAITING_APPROVAL.value, 0),
        failed_tasks=failed_tasks_open_count(),
        low_stock_threshold=threshold,
        low_stock_count=low_stock.count(),
        low_stock_products=list(low_stock.order_by("stock", "public_id")[:low_stock_shown]),
        delayed=counts.get(OrderState.STALLED.value, 0),
        circuits=breakers.circuits(),
    )


def order_stalled_on(order_ids: list[int]) -> dict[int, str]:
    """The provider each of these orders last stalled on (its `provider_unavailable` event's step), one query."""
    events = (OrderEvent.objects.filter(order_id__in=order_ids, transition="provider_unavailable")
              .order_by("created_at", "id").values_list("order_id", "detail"))
    return {order_id: detail.get("step", "") for order_id, detail in events}  # the latest wins


def providers_not_closed() -> set[str]:
    """The providers whose circuit is open or half-open now."""
    return {view.provider for view in breakers.circuits() if view.state != breakers.CLOSED}


def product_low_stock() -> QuerySet[Product]:
    """Active products with at most their own low-stock threshold of units left (or, without
    one, STORE_LOW_STOCK_THRESHOLD)."""
    return Product.objects.active().low_stock()


def order_approval_queue(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """Held orders, the earliest deadline first, with their hold (rule, reason, the evaluation
    that held them, assignee, deadline) and item count (one query)."""
    return (
        queryset.filter(state=OrderState.AWAITING_APPROVAL)
        .select_related("owner", "hold", "hold__assignee", "hold__evaluation")
        .annotate(item_count=Sum("lines__quantity"))
        .order_by(F("hold__deadline").asc(nulls_last=True), "created_at", "id")
    )
