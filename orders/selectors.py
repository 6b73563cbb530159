"""Reads of orders. Every customer-facing read is scoped to the owner."""
from django.db.models import Count, Prefetch, QuerySet, Sum

from orders.models import Order, OrderEvent, OrderLine
from store.errors import NotFound


def _with_details(queryset: QuerySet[Order]) -> QuerySet[Order]:
    return queryset.select_related("owner").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("id")),
        "refunds",
    )


def order_list(*, user, state: str | None = None) -> QuerySet[Order]:
    """The user's own orders, newest first; staff see every order (optionally by state)."""
    queryset = Order.objects.all() if user.is_staff else Order.objects.filter(owner=user)
    if state and user.is_staff:
        queryset = queryset.filter(state=state)
    return _with_details(queryset).annotate(item_count=Sum("lines__quantity")).order_by("-created_at", "-id")


def order_summaries(*, user) -> QuerySet[Order]:
    """The customer's own orders with item counts, for the "Your Orders" page."""
    return (
        Order.objects.filter(owner=user)
        .annotate(item_count=Sum("lines__quantity"), line_count=Count("lines"))
        .order_by("-created_at", "-id")
    )


def order_get(*, user, order_id) -> Order:
    """One order with its lines, refunds and timeline. Another customer's order is NotFound."""
    queryset = Order.objects.all() if user.is_staff else Order.objects.filter(owner=user)
    queryset = _with_details(queryset).prefetch_related(
        Prefetch("events", queryset=OrderEvent.objects.select_related("actor").order_by("created_at", "id"))
    )
    try:
        return queryset.get(pk=int(order_id))
    except (Order.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"Order {order_id} was not found.") from None


def order_get_for_staff(*, order_id) -> Order:
    try:
        return Order.objects.get(pk=int(order_id))
    except (Order.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"Order {order_id} was not found.") from None
