"""Reads of orders. Every customer-facing read is scoped to the owner."""
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateformat import format as date_format

from orders.meaning import CANCELLED, FAILED, OMITTED, REFUNDED, SKIPPED, NextStep
from orders.models import Next, Order, OrderEvent, OrderLine, Refund, RefundLine, StaffNote, TrackingEvent
from orders.states import (
    TERMINAL_STATES,
    TIMELINE,
    TRANSITIONS,
    WAITING_STATES,
    Actor,
    OrderState,
    meaning,
)
from orders.workflow import payment_wait_policy
from providers.base import EXCEPTION
from providers.steps import step_states
from store import permissions
from store.errors import NotFound
from store.money import CENT


def lines_with_refunds(queryset: QuerySet[OrderLine] | None = None) -> QuerySet[OrderLine]:
    """Order lines with `refunded_quantity` (units refunded so far) and `refundable_quantity`
    (bought minus refunded)."""
    queryset = OrderLine.objects.all() if queryset is None else queryset
    return queryset.annotate(refunded_quantity=Coalesce(Sum("refund_lines__quantity"), 0)).annotate(
        refundable_quantity=F("quantity") - F("refunded_quantity")).order_by("id")


def refund_made_with(*, order: Order, idempotency_key: str) -> bool:
    """Whether `order` has a refund made with `idempotency_key` (a confirmation posted again)."""
    return bool(idempotency_key) and Refund.objects.filter(order=order, idempotency_key=idempotency_key).exists()


def shipping_refundable(*, order: Order) -> Decimal:
    """What of the order's shipping cost (USD) no refund gave back yet: shipping_cost minus the
    refunds' `shipping_amount`; 0.00 for free shipping or shipping refunded already. In cents:
    SQLite sums decimals in floating point, with more places than the column keeps."""
    refunded = order.refunds.aggregate(shipping=Coalesce(Sum("shipping_amount"), Decimal("0.00")))["shipping"]
    return max(order.shipping_cost - refunded, Decimal("0.00")).quantize(CENT, rounding=ROUND_HALF_UP)


def _with_details(queryset: QuerySet[Order]) -> QuerySet[Order]:
    return queryset.select_related("owner").prefetch_related(
        Prefetch("lines", queryset=lines_with_refunds()),
        Prefetch("refunds", queryset=Refund.objects.prefetch_related("lines__line")),
    )


def _visible_to(user) -> QuerySet[Order]:
    """Every order for staff who may see other customers' orders (store.permissions), else the user's
    own; PermissionRefused (403 second_factor_required) for such staff without their second factor."""
    if permissions.sees_as_staff(user, permissions.ORDER_VIEW):
        return Order.objects.all()
    return Order.objects.filter(owner=user)


# Days a period may start or end on: at the calendar's first and last day, the next day's start
# (an inclusive end) or a day's start in UTC (a zone ahead of it) is past what datetime holds.
FIRST_DAY = date.min + timedelta(days=1)
LAST_DAY = date.max - timedelta(days=1)


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def order_list(*, user, states: Iterable[str] = (), customer: int | str | None = None,
               created_from: date | None = None, created_to: date | None = None) -> QuerySet[Order]:
    """The orders `user` may see (`_visible_to`), newest first, narrowed by every filter given.

    `states`: in any of these states. `customer`: placed by this account, a user id (int) or an
    e-mail (str, matched case-insensitively). `created_from` / `created_to`: placed on or after
    the first day, on or before the last (inclusive; days in settings.TIME_ZONE). The filters
    only narrow what `user` may see: a customer naming another customer gets no orders.
    """
    queryset = _visible_to(user)
    states = tuple(states)
    if states:
        queryset = queryset.filter(state__in=states)
    if isinstance(customer, int):
        queryset = queryset.filter(owner_id=customer)
    elif customer:
        queryset = queryset.filter(owner__email__iexact=customer)
    if created_from:
        queryset = queryset.filter(created_at__gte=_day_start(created_from))
    if created_to:
        queryset = queryset.filter(created_at__lt=_day_start(created_to + timedelta(days=1)))
    return _with_details(queryset).annotate(item_count=Sum("lines__quantity")).order_by("-created_at", "-id")


def order_summaries(*, user) -> QuerySet[Order]:
    """The customer's own orders with item counts, for the "Your Orders" page."""
    return (
        Order.objects.filter(owner=user)
        .annotate(item_count=Sum("lines__quantity"), line_count=Count("lines"))
        .order_by("-created_at", "-id")
    )


def order_get(*, user, order_id) -> Order:
    """One order with its lines (annotated as `lines_with_refunds` annotates them), its refunds
    with their lines, and its timeline (events with their actors), as `order.lines.all()`,
    `order.refunds.all()` and `order.events.all()`; NotFound unless `user` may see it
    (`_visible_to`). Three queries, two more for an order refunded (`refunded_amount`: every
    refund adds its positive amount to it in the same transaction, so an order without refunds
    reads none); `order.owner` is `user` when it is their order."""
    try:
        order = _visible_to(user).get(pk=int(order_id))
    except (Order.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"Order {order_id} was not found.") from None
    if order.owner_id == user.pk:
        order.owner = user
    lines = _prefetched(order, "lines", order.lines.all())
    refunded = dict.fromkeys((line.pk for line in lines), 0)
    if order.refunded_amount:
        refunds = _prefetched(order, "refunds", order.refunds.all())
        parts: dict[int, list[RefundLine]] = {refund.pk: [] for refund in refunds}
        lines_by_id = {line.pk: line for line in lines}
        for part in RefundLine.objects.filter(refund__in=refunds):
            if part.line_id in lines_by_id:  # always, as the refund services write them
                part.line = lines_by_id[part.line_id]
                refunded[part.line_id] += part.quantity
            parts[part.refund_id].append(part)
        for refund in refunds:
            for part in parts[refund.pk]:
                part.refund = refund
            _prefetched(refund, "lines", refund.lines.all(), parts[refund.pk])
    else:
        _prefetched(order, "refunds", order.refunds.all(), [])
    for line in lines:
        line.refunded_quantity = refunded[line.pk]
        line.refundable_quantity = line.quantity - line.refunded_quantity
    _prefetched(order, "events", order.events.select_related("actor"))
    return order


def _prefetched(instance, relation: str, queryset: QuerySet, rows: list | None = None) -> list:
    """Keep `queryset` (of `instance`'s reverse relation `relation`) as that relation's prefetched
    rows, as prefetch_related keeps them: `rows` when given (nothing is read), else the
    queryset's own. Without prefetch_related's generic machinery, which costs more than the
    query on an order page."""
    if rows is None:
        rows = list(queryset)
    else:
        queryset._result_cache = rows
    queryset._prefetch_done = True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[relation] = queryset
    return rows


def order_retries(*, order: Order) -> list[Order]:
    """The orders placed again from `order` (Try again, a payment link), newest first, as the
    order page links them: their id (and number) and state, nothing else read."""
    return list(Order.objects.filter(retry_of=order).only("id", "state"))


def _version(updated_at: datetime, event_count: int) -> str:
    # Every change the order page shows writes an OrderEvent or saves the order (auto_now).
    return f"{updated_at:%Y%m%d%H%M%S%f}-{event_count}"


def order_version(*, user, order_id) -> str:
    """A token ("<updated_at digits>-<event count>", ASCII) that changes whenever the order page's
    live part would; one query, without loading the order. NotFound as `order_get`."""
    row = (_visible_to(user).filter(pk=order_id).annotate(event_count=Count("events"))
           .values_list("updated_at", "event_count").first())
    if row is None:
        raise NotFound(f"Order {order_id} was not found.")
    return _version(*row)


def order_version_of(*, order: Order) -> str:
    """`order_version` of an order loaded by `order_get` (its events prefetched)."""
    return _version(order.updated_at, len(order.events.all()))


def order_waits(*, order: Order) -> bool:
    """Whether the order waits on someone rather than on the pipeline's next step: held for the
    shop's approval or delayed (WAITING_STATES), a payment pending at the bank, or a step waiting
    for a provider to answer."""
    if order.state in WAITING_STATES or (order.state == OrderState.PAYING and order.charge_pending_reference):
        return True
    events = order.events.all()
    last = events[len(events) - 1] if events else None
    return bool(last is not None and not last.transition and last.detail.get("waiting")
                and last.target_state == order.state)


def order_next_step(*, order: Order, entered: OrderEvent | None = None) -> NextStep | None:
    """What the customer may do about `order` now (orders.meaning.NextStep), as declared on the
    transition that brought it into its state when it ended or waits (TERMINAL_STATES,
    WAITING_STATES): resolved for who fired it (the shop's staff or not) and the state it left
    (NextStep.resolve). `Next.BANK` while its charge is pending at the bank (an event of its own,
    not a transition); None while the pipeline moves it on. Reads the order's events (prefetched
    by order_get; one query otherwise), unless `entered` is that transition's event (the
    transaction that wrote it tells the customer)."""
    if order.state == OrderState.PAYING and order.charge_pending_reference:
        return Next.BANK
    if order.state not in TERMINAL_STATES | WAITING_STATES:
        return None
    if entered is None or entered.transition not in TRANSITIONS or entered.target_state != order.state:
        entered = next((event for event in reversed(list(order.events.all()))
                        if event.transition in TRANSITIONS and event.target_state == order.state), None)
    if entered is None or meaning(entered.transition).next_step is None:
        return None
    return meaning(entered.transition).next_step.resolve(by_shop=entered.actor_kind == Actor.STAFF,
                                                         source=entered.source_state)


def order_by_idempotency_key(*, user, idempotency_key: str) -> Order | None:
    """The customer's order placed with this checkout key, if any (a resubmitted checkout form)."""
    if not idempotency_key:
        return None
    return Order.objects.filter(owner=user, idempotency_key=idempotency_key).first()


def orders_waiting_on(*, provider: str) -> QuerySet[Order]:
    """Orders in a state whose pipeline step calls `provider` (providers.steps), oldest first: while
    its circuit is open they wait there, and a closed circuit hands them back to the pipeline."""
    return Order.objects.filter(state__in=step_states(provider)).order_by("updated_at", "id")


# --- A payment pending at the bank ----------------------------------------------------------


@dataclass(frozen=True)
class PaymentWait:
    """An order in `paying` whose charge the provider answered "pending" (3-D Secure, a transfer):
    charge `reference` has waited since `since`; from `asks_from` the reconciliation schedule asks
    the provider about it every `ask_every_minutes`; at `deadline` the order fails unless the
    provider confirmed it. `asking`: that moment has come; `overdue`: the deadline has passed and
    the order still waits (the pipeline run due then has not happened)."""

    reference: str
    since: datetime
    asks_from: datetime
    ask_every_minutes: int
    deadline: datetime
    asking: bool
    overdue: bool


def order_payment_wait(*, order: Order, now: datetime | None = None) -> PaymentWait | None:
    """How the order waits for its payment's confirmation (its workflow version's confirmation
    timeout, the current version's reconciliation: orders.workflow.payment_wait_policy), None
    when no charge of it is pending. No query once this process read those versions."""
    if order.state != OrderState.PAYING or order.charge_pending_since is None:
        return None
    now = now or timezone.now()
    since = order.charge_pending_since
    timeout, ask_after, ask_every = payment_wait_policy(order)
    asks_from = since + timedelta(seconds=ask_after)
    deadline = since + timedelta(seconds=timeout)
    return PaymentWait(reference=order.charge_pending_reference, since=since, asks_from=asks_from,
                       ask_every_minutes=ask_every, deadline=deadline, asking=now >= asks_from, overdue=now >= deadline)


# --- The carrier's latest word ---------------------------------------------------------------


def _latest_tracking(order_ref) -> QuerySet[TrackingEvent]:
    """The updates applied to the order, the latest first: by when they happened at the carrier
    (`occurred_at`; they may arrive out of order), then as received."""
    return (TrackingEvent.objects.filter(order=order_ref, outcome=TrackingEvent.Outcome.APPLIED)
            .order_by("-occurred_at", "-id"))


def tracking_latest(*, order: Order) -> TrackingEvent | None:
    """The carrier's latest update applied to `order` (the one rule the customer's page and
    Needs attention read), None before any."""
    return _latest_tracking(order).first()


def with_latest_tracking(orders: QuerySet[Order]) -> QuerySet[Order]:
    """`orders` annotated with their latest applied tracking update (as `tracking_latest`):
    `tracking_status`, `tracking_description`, `tracking_at` (None before any)."""
    latest = _latest_tracking(OuterRef("pk"))
    return orders.annotate(tracking_status=Subquery(latest.values("status")[:1]),
                           tracking_description=Subquery(latest.values("description")[:1]),
                           tracking_at=Subquery(latest.values("occurred_at")[:1]))


def delivery_problem_orders() -> QuerySet[Order]:
    """Shipped orders whose latest tracking update (`with_latest_tracking`) is an exception: the
    carrier could not deliver the parcel and holds it."""
    return with_latest_tracking(Order.objects.filter(state=OrderState.SHIPPED)).filter(tracking_status=EXCEPTION)


def delivery_problem_q() -> Q:
    """Q: the order is a delivery problem (`delivery_problem_orders`), for filters and aggregates."""
    return Q(state=OrderState.SHIPPED) & Exists(delivery_problem_orders().filter(pk=OuterRef("pk")))


# --- The order page's processing timeline ------------------------------------------------

@dataclass(frozen=True)
class TrackingLine:
    """One of the carrier's tracking updates as the customer reads it: "In transit", the carrier's
    words, where and when it happened."""

    status: str
    label: str
    description: str
    location: str
    at: datetime | None


@dataclass
class TimelineStage:
    """One stage of an order's processing as the customer sees it.

    `status` is one of: done, current, failed, pending, skipped (passed over: the order went on
    without it), stopped (under way when the order ended: reached, never completed),
    not_reached (the order ended before it), cancelled, refunded. `updates`: the carrier's
    tracking updates, on the delivery stage.
    """

    key: str
    label: str
    status: str = "pending"
    note: str = ""
    at: datetime | None = None
    updates: list[TrackingLine] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return TIMELINE_STATUS_LABELS[self.status]


# The carrier's tracking statuses (providers.base) as the customer reads them.
TRACKING_STATUS_LABELS = {
    "in_transit": "In transit",
    "out_for_delivery": "Out for delivery",
    "delivered": "Delivered",
    "exception": "Delivery problem",
    "returned_to_sender": "Returned to the shop",
}

TIMELINE_STATUS_LABELS = {
    "done": "Completed",
    "current": "In progress",
    "failed": "Failed",
    "pending": "Not started",
    "skipped": "Skipped",
    "stopped": "Stopped here",
    "not_reached": "Not reached",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
}


class _Values(dict):
    """Format values for a declared note: a missing key reads as ""."""

    def __missing__(self, key: str) -> str:
        return ""


def _timeline_note(order: Order, event: OrderEvent, status: str) -> str:
    """The customer-facing sentence for a stage, from the declared note of the event's transition."""
    detail = event.customer_detail
    note = meaning(event.transition).note
    if callable(note):
        return note(order, detail)
    if note:
        fields = {field.attname: getattr(order, field.attname) for field in order._meta.concrete_fields}
        return note.format_map(_Values(fields | detail))
    if status in (FAILED, CANCELLED):
        return detail.get("reason") or order.failure_reason
    return ""


# The payment stage while the provider waits for the bank (3-D Secure, a transfer).
PAYMENT_PENDING_NOTE = ("Waiting for your bank to confirm the payment. Nothing more is needed from you: "
                        "your order goes on by itself once the bank confirms.")


def _waiting_note(order: Order, last: OrderEvent | None) -> str:
    """What the stage under way adds while the order waits: a payment pending at the bank, else
    from its latest event, a wait for a provider the pipeline notes (order_waiting_record) while
    the order is still in that state, or the declared note of a transition that sets no stage
    (an order delayed by a provider)."""
    if order.state == OrderState.PAYING and order.charge_pending_reference:
        return PAYMENT_PENDING_NOTE
    if last is None:
        return ""
    if not last.transition:
        provider = last.customer_detail.get("provider")
        if last.detail.get("waiting") and provider and last.target_state == order.state:
            return f"Waiting for the {provider} provider to answer; your order goes on by itself"
        return ""
    said = meaning(last.transition) if last.transition in TRANSITIONS else None
    if said is not None and not said.stages and said.note:
        return _timeline_note(order, last, "current")
    return ""


def order_timeline(*, order: Order) -> list[TimelineStage]:
    """The order's processing stages (orders.models.TIMELINE: Created → Checking inventory →
    Processing payment → Shipping → Delivered, plus approval, refund or cancellation when they
    happened), from its OrderEvent rows, each setting the stages its transition declares; the
    stage under way says so while the order waits (`_waiting_note`)."""
    stages = {stage.key: TimelineStage(key=stage.key, label=stage.label) for stage in TIMELINE}
    stages["created"].status, stages["created"].at = "done", order.created_at
    stages["created"].note = "Order placed"
    seen = {stage.key for stage in TIMELINE if not stage.when_reached}

    events = list(order.events.all())
    for event in events:
        if event.detail.get("tracking"):
            stages["delivered"].updates.append(_tracking_line(event))
        if event.transition not in TRANSITIONS:
            continue
        for key, status in meaning(event.transition).stages:
            if status == OMITTED:  # the order's workflow version has no such step
                seen.discard(key)
                continue
            stage = stages[key]
            stage.status, stage.at = status, event.created_at
            stage.note = _timeline_note(order, event, status)
            seen.add(key)

    # A stage still pending before one the order went on to was passed over: an order that went
    # past it before the stage existed (placed before risk screening) has no event for it. A
    # cancellation or a refund ends the order where it was, and passes nothing over.
    shown = [stage for key, stage in stages.items() if key in seen]
    last_reached = max((i for i, stage in enumerate(shown) if stage.status not in ("pending", CANCELLED, REFUNDED)),
                       default=0)
    for stage in shown[:last_reached]:
        if stage.status == "pending":
            stage.status = SKIPPED

    if order.state in TERMINAL_STATES:
        # The stage under way when the order ended was reached and stays so; whatever the order
        # never got to, it will not get to now.
        for stage in shown:
            if stage.status == "current":
                stage.status, stage.note = "stopped", ""  # its note told what was under way
            elif stage.status == "pending":
                stage.status = "not_reached"
    elif not any(stage.status in ("current", "failed") for stage in stages.values() if stage.key in seen):
        # Between two steps (queued, or held in a state the pipeline is about to leave): the
        # next stage is the one under way.
        upcoming = next((stage for key, stage in stages.items() if key in seen and stage.status == "pending"), None)
        if upcoming is not None:
            upcoming.status = "current"
            if order.state == OrderState.NEW:
                upcoming.note = "Queued for processing"

    waiting = _waiting_note(order, events[-1] if events else None)
    under_way = next((stage for key, stage in stages.items() if key in seen and stage.status == "current"), None)
    if waiting and under_way is not None:
        under_way.note = waiting

    delivery = stages["delivered"]
    delivery.updates.sort(key=lambda update: update.at)  # as they happened: the carrier's may arrive out of order
    if delivery.status in ("pending", "current") and order.estimated_delivery:
        delivery.note = f"Estimated {date_format(order.estimated_delivery, 'M j, Y')}"
    latest = tracking_latest(order=order) if order.state == OrderState.SHIPPED and delivery.updates else None
    if latest is not None and latest.status == EXCEPTION:
        delivery.note = (f"The carrier could not deliver: {latest.description or 'a delivery problem'}. "
                         "The shop will contact you.")
    return [stage for key, stage in stages.items() if key in seen]


def _tracking_line(event: OrderEvent) -> TrackingLine:
    detail = event.customer_detail
    status = detail.get("tracking", "")
    try:
        at = datetime.fromisoformat(detail["occurred_at"]) if detail.get("occurred_at") else event.created_at
    except ValueError:
        at = event.created_at
    return TrackingLine(status=status, label=TRACKING_STATUS_LABELS.get(status, status.replace("_", " ").capitalize()),
                        description=detail.get("description", ""), location=detail.get("location", ""), at=at)


# --- Staff's notes (staff only: never shown to a customer) -------------------------------------


@dataclass(frozen=True)
class StaffNoteEntry:
    """A staff-only note: one written on its own (StaffNote) or given with a reject or cancel
    (its OrderEvent's `detail.note`). `source` says which: "note", or the transition's name."""

    at: datetime
    author: str
    text: str
    source: str
    order: Order | None = None


def staff_note_entry(note: StaffNote) -> StaffNoteEntry:
    """A StaffNote as an entry of the notes staff read."""
    return StaffNoteEntry(note.created_at, note.author_email or "(deleted account)", note.text, "note", note.order)


def _event_note_entry(event: OrderEvent) -> StaffNoteEntry:
    return StaffNoteEntry(event.created_at, event.actor_email or event.actor_label, event.detail["note"],
                          event.transition or event.event_type, event.order)


def _event_notes(queryset: QuerySet[OrderEvent]) -> list[StaffNoteEntry]:
    with_note = queryset.filter(detail__has_key="note").exclude(detail__note="")
    return [_event_note_entry(event) for event in with_note.select_related("order")]


def order_staff_notes(*, order: Order) -> list[StaffNoteEntry]:
    """Staff's notes on the order, newest first: the notes written on it and those given with a
    reject or cancel (the event's `detail.note`). Two queries."""
    notes = [staff_note_entry(note) for note in StaffNote.objects.filter(order=order).select_related("order")]
    notes += _event_notes(OrderEvent.objects.filter(order=order))
    return sorted(notes, key=lambda entry: entry.at, reverse=True)


def customer_staff_notes(*, customer) -> list[StaffNoteEntry]:
    """Staff's notes on the customer and on each of their orders (as `order_staff_notes`), newest first."""
    notes = [staff_note_entry(note) for note in
             StaffNote.objects.filter(Q(customer=customer) | Q(order__owner=customer)).select_related("order")]
    notes += _event_notes(OrderEvent.objects.filter(order__owner=customer))
    return sorted(notes, key=lambda entry: entry.at, reverse=True)
