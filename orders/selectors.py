"""Reads of orders. Every customer-facing read is scoped to the owner."""
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Prefetch, QuerySet, Sum
from django.utils.dateformat import format as date_format

from orders.models import Order, OrderEvent, OrderLine
from orders.states import TERMINAL_STATES, OrderState
from store import permissions
from store.errors import NotFound


def _with_details(queryset: QuerySet[Order]) -> QuerySet[Order]:
    return queryset.select_related("owner").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("id")),
        "refunds",
    )


def _visible_to(user) -> QuerySet[Order]:
    """Every order for staff who may see other customers' orders (store.permissions), else the user's own."""
    return Order.objects.all() if permissions.can(user, permissions.ORDER_VIEW) else Order.objects.filter(owner=user)


def order_list(*, user, state: str | None = None) -> QuerySet[Order]:
    """The orders `user` may see (`_visible_to`), newest first, optionally in one state."""
    queryset = _visible_to(user)
    if state:
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
    """One order with its lines, refunds and timeline; NotFound unless `user` may see it (`_visible_to`)."""
    queryset = _with_details(_visible_to(user)).prefetch_related(
        Prefetch("events", queryset=OrderEvent.objects.select_related("actor").order_by("created_at", "id"))
    )
    try:
        return queryset.get(pk=int(order_id))
    except (Order.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"Order {order_id} was not found.") from None


def order_by_idempotency_key(*, user, idempotency_key: str) -> Order | None:
    """The customer's order placed with this checkout key, if any (a resubmitted checkout form)."""
    if not idempotency_key:
        return None
    return Order.objects.filter(owner=user, idempotency_key=idempotency_key).first()


# --- The order page's processing timeline ------------------------------------------------

@dataclass
class TimelineStage:
    """One stage of an order's processing as the customer sees it.

    `status` is one of: done, current, failed, pending, skipped (not reached because the order
    ended earlier), cancelled, refunded.
    """

    key: str
    label: str
    status: str = "pending"
    note: str = ""
    at: datetime | None = None

    @property
    def status_label(self) -> str:
        return TIMELINE_STATUS_LABELS[self.status]


TIMELINE_STATUS_LABELS = {
    "done": "Completed",
    "current": "In progress",
    "failed": "Failed",
    "pending": "Not started",
    "skipped": "Not reached",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
}

# The happy path, in order. "approval" is inserted only for orders a review rule held, and
# "refunded" / "cancelled" are appended when the order ended that way.
TIMELINE_STAGES = (
    ("created", "Created"),
    ("inventory", "Checking inventory"),
    ("approval", "Awaiting approval"),
    ("payment", "Processing payment"),
    ("shipping", "Shipping"),
    ("delivered", "Delivered"),
    ("refunded", "Refunded"),
    ("cancelled", "Cancelled"),
)
_OPTIONAL_STAGES = {"approval", "refunded", "cancelled"}

# What each transition means for the stages: [(stage, status), …].
_TIMELINE_EFFECTS = {
    "start_validation": [("inventory", "current")],
    "validation_passed": [("inventory", "done")],
    "validation_failed": [("inventory", "failed")],
    "hold_for_review": [("approval", "current")],
    "approve": [("approval", "done"), ("payment", "current")],
    "reject": [("approval", "failed"), ("cancelled", "cancelled")],
    "start_payment": [("payment", "current")],
    "retry_payment": [("payment", "current")],
    "payment_approved": [("payment", "done")],
    "payment_declined": [("payment", "failed")],
    "abandon_payment": [("payment", "failed")],
    "start_shipping": [("shipping", "current")],
    "retry_shipping": [("shipping", "current")],
    "shipping_confirmed": [("shipping", "done")],
    "shipping_failed": [("shipping", "failed")],
    "deliver_order": [("delivered", "done")],
    "refund": [("refunded", "refunded")],
    "cancel_order": [("cancelled", "cancelled")],
    "cancel_validated": [("cancelled", "cancelled")],
}


_FAILURE_TRANSITIONS = frozenset(
    {"validation_failed", "payment_declined", "shipping_failed", "reject", "cancel_order", "cancel_validated"}
)


def _timeline_note(order: Order, event: OrderEvent, stage: str) -> str:
    """The customer-facing sentence for a stage, from the event that last changed it."""
    detail = event.detail or {}
    reason = detail.get("reason") or order.failure_reason
    attempts = int(detail.get("attempts") or 1)
    after_attempts = f" after {attempts} attempts" if attempts > 1 else ""
    name = event.transition
    if name == "validation_passed":
        return "All items are in stock"
    if name == "hold_for_review":
        return "Waiting for the shop to approve this order"
    if name == "approve":
        return "Approved by the shop" if stage == "approval" else "Charging your card"
    if name in ("retry_payment", "retry_shipping"):
        counter = order.payment_retries if name == "retry_payment" else order.shipping_retries
        return f"Trying again (retry {counter})"
    if name == "payment_approved":
        last4 = detail.get("card_last4") or order.card_last4
        return f"Payment approved{after_attempts}" + (f" · card ending {last4}" if last4 else "")
    if name == "abandon_payment":
        tries = order.payment_retries + 1
        return f"{reason or 'Payment failed'} · gave up after {tries} tries"
    if name == "shipping_confirmed":
        carrier = detail.get("carrier") or order.carrier
        tracking = detail.get("tracking_number") or order.tracking_number
        return f"Label created · {carrier} {tracking}".strip()
    if name == "deliver_order":
        return "Your order has arrived"
    if name == "refund":
        amount = detail.get("amount") or order.refunded_amount
        why = detail.get("reason", "")
        return f"${amount} refunded" + (f" · {why}" if why else "")
    if name in _FAILURE_TRANSITIONS:
        return reason or ""
    return ""


def order_timeline(*, order: Order) -> list[TimelineStage]:
    """The order's processing stages (Created → Checking inventory → Processing payment →
    Shipping → Delivered, plus approval, refund or cancellation when they happened), computed
    from its OrderEvent rows and its current state."""
    stages = {key: TimelineStage(key=key, label=label) for key, label in TIMELINE_STAGES}
    stages["created"].status, stages["created"].at = "done", order.created_at
    stages["created"].note = "Order placed"
    seen = {"created", "inventory", "payment", "shipping", "delivered"}

    for event in order.events.all():
        for key, status in _TIMELINE_EFFECTS.get(event.transition, ()):
            stage = stages[key]
            stage.status, stage.at = status, event.created_at
            stage.note = _timeline_note(order, event, key)
            seen.add(key)

    if order.state in TERMINAL_STATES:
        # Whatever the order never got to, it will not get to now.
        for stage in stages.values():
            if stage.status in ("pending", "current") and stage.key in seen:
                stage.status = "skipped"
    elif not any(stage.status in ("current", "failed") for stage in stages.values() if stage.key in seen):
        # Between two steps (queued, or held in a state the pipeline is about to leave): the
        # next stage is the one under way.
        upcoming = next((stage for key, stage in stages.items() if key in seen and stage.status == "pending"), None)
        if upcoming is not None:
            upcoming.status = "current"
            if order.state == OrderState.NEW:
                upcoming.note = "Queued for processing"

    if stages["delivered"].status in ("pending", "current") and order.estimated_delivery:
        stages["delivered"].note = f"Estimated {date_format(order.estimated_delivery, 'M j, Y')}"
    return [stage for key, stage in stages.items() if key in seen]
