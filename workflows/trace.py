"""Every order's full trace, for staff: what happened to it, in time order, in words.

The trace is a merge of sources, each a function that reads one kind of record about an order
in a fixed number of queries (whatever the number of rows) and says each row as an `Entry`:

- `event_entries`: the order's events (OrderEvent): transitions, waits, refunds and
  compensations, staff actions, each with its details in words;
- `call_entries`: the store's own calls to providers (providers.ProviderCall), every attempt
  with its latency, outcome and idempotency key (the simulators' ledger stays theirs);
- `callback_entries`: the payment provider's webhook deliveries, applied, ignored or refused;
- `tracking_entries`: the carrier's tracking updates the store ignored (another parcel's, or
  after the order ended); those it applied are the order's events;
- `notification_entries`: what the customer was told, and whether the e-mail went out;
- `evaluation_entries`: each asking of the review rules: the decision, the deciding rule's
  condition with the order's values, and every other rule's outcome;
- `hold_entries`: the order's hold (reason, assignee, deadline and its action) and what its
  deadline did;
- `note_entries`: staff's internal notes.

A new kind of record is one more source in `SOURCES`. Each
entry names who acted and the request id that caused it, so a request's lines in the logs
and its entries here find each other. The customer's own, simpler timeline is
orders.selectors.order_timeline.
"""
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models
from django.utils import timezone

from notifications.models import Notification
from notifications.services import EMAIL_ATTEMPTS
from orders.models import Order, OrderEvent, PaymentWebhookEvent, StaffNote, TrackingEvent
from orders.services.address import ADDRESS_CORRECTED
from orders.services.dismissal import DISMISSED
from orders.services.reorder import PAYMENT_LINK_EVENT
from orders.states import TRANSITIONS, Actor, OrderState, meaning
from providers.models import ProviderCall
from store.errors import NotFound
from store.money import money
from store.numbers import MAX_ID
from workflows.models import Hold, RuleEvaluation


class Kind(models.TextChoices):
    TRANSITION = "transition", "Transition"
    WAIT = "wait", "Waiting"
    PROVIDER_CALL = "provider_call", "Provider call"
    CALLBACK = "callback", "Callback"
    EVALUATION = "evaluation", "Rule evaluation"
    HOLD = "hold", "Hold"
    REFUND = "refund", "Refund"
    COMPENSATION = "compensation", "Compensation"
    NOTIFICATION = "notification", "Notification"
    STAFF_NOTE = "staff_note", "Staff note"
    STAFF_ACTION = "staff_action", "Staff action"


@dataclass(frozen=True)
class CallFacts:
    """A provider call's facts, for whoever reads the trace by machine (the API)."""

    provider: str
    operation: str
    step: str
    key: str
    attempt: int
    outcome: str
    latency_ms: int


@dataclass(frozen=True)
class Entry:
    """One thing that happened to an order: when, what kind, a sentence saying it, who did it
    ("" when nobody in particular: a provider call) and the request id that caused it."""

    at: datetime
    kind: str
    text: str
    actor: str = ""
    request_id: str = ""
    call: CallFacts | None = None

    @property
    def kind_label(self) -> str:
        return Kind(self.kind).label


@dataclass(frozen=True)
class OrderTrace:
    order: Order
    entries: list[Entry]


# --- Order events ----------------------------------------------------------------------------

EVENT_HEADLINES = {
    "order.created": "Order placed",
    "order.partially_refunded": "Partial refund",
    PAYMENT_LINK_EVENT: "Payment link e-mailed to the customer",
    ADDRESS_CORRECTED: "Shipping address corrected",
    "order.in_transit": "Carrier: in transit",
    "order.out_for_delivery": "Carrier: out for delivery",
    "order.delivery_exception": "Carrier: delivery problem",
}
REFUND_EVENTS = frozenset({"order.refunded", "order.partially_refunded"})


def _address(value: Any) -> str:
    if not isinstance(value, dict):
        return str(value)
    return ", ".join(str(value.get(part, "")) for part in ("address", "city", "state", "zip") if value.get(part))


def _moment(value: Any) -> str:
    """An ISO 8601 moment kept in a detail, as the admin shows times ("2026-12-05 14:03 UTC")."""
    try:
        return f"{timezone.localtime(datetime.fromisoformat(str(value))):%Y-%m-%d %H:%M %Z}"
    except ValueError:
        return str(value)


def _attempts(value: Any) -> str:
    calls = int(value or 1)
    return f"after {calls} calls" if calls > 1 else ""


def _items(value: Any) -> str:
    return f"{value} item{'s' if value != 1 else ''}" if isinstance(value, int) else f"items: {value}"


def _yes(value: Any) -> bool:
    return value not in (False, "False", "", None)


# How each key of an event's detail reads, in the order shown; a key not listed here reads as its
# words ("last failure: …"), never as a raw key.
DETAIL_WORDS: dict[str, Callable[[Any], str]] = {
    "amount": money,
    "total": lambda value: f"total {money(value)}",
    "items": _items,
    "reason": lambda value: f"reason: {value}",
    "decline_code": lambda value: f"decline code {value} (staff only)",
    "bank_reason": lambda value: f"the bank said “{value}” (staff only)",
    "note": lambda value: f"internal note (staff only): “{value}”",
    "rule": lambda value: f"review rule “{value}”",
    "risk_score": lambda value: f"risk score {value}",
    "attempts": _attempts,
    "transaction_id": lambda value: f"transaction {value}",
    "card_last4": lambda value: f"card ending {value}",
    "carrier": lambda value: f"carrier {value}",
    "tracking_number": lambda value: f"tracking number {value}",
    "estimated_delivery": lambda value: f"delivery expected {value}",
    "reference": lambda value: f"provider reference {value}",
    "webhook_event": lambda value: f"on the provider's callback {value}",
    "reconciled": lambda value: f"settled by asking the provider about charge {value}",
    "asked_by": lambda value: f"asked by {value}",
    "restocked": lambda value: "units back to stock" if _yes(value) else "",
    "stock": lambda value: f"stock {value}",
    "expires_at": lambda value: f"the link works until {value}",
    "deadline": lambda value: f"the hold's deadline was {_moment(value)}",
    "old_address": lambda value: f"from {_address(value)}",
    "new_address": lambda value: f"to {_address(value)}",
    "description": lambda value: f"the carrier says: {value}",
    "location": lambda value: f"at {value}",
    "occurred_at": lambda value: f"at {_moment(value)}",
    "tracking_event": lambda value: f"tracking event {value}",
    "via": lambda value: {"webhook": "by the carrier's webhook", "lookup": "found by asking the carrier"}.get(value, ""),
}
# Said by the headline or the entry's kind, or ids staff do not act on.
DETAIL_UNSAID = frozenset({"step", "provider", "waiting", "message", DISMISSED, "refund", "payment_link", "evaluation",
                          "hold", "simulated_ms", "tracking"})


def detail_words(detail: dict) -> list[str]:
    """An event's detail as phrases a person reads, known keys first in DETAIL_WORDS' order."""
    known = [DETAIL_WORDS[key](detail[key]) for key in DETAIL_WORDS if detail.get(key) not in (None, "")]
    other = [f"{key.replace('_', ' ')}: {_address(value)}" for key, value in sorted(detail.items())
             if key not in DETAIL_WORDS and key not in DETAIL_UNSAID and value not in (None, "")]
    return [phrase for phrase in known + other if phrase]


def _state(value: str) -> str:
    return OrderState(value).label if value in OrderState.values else value


def event_headline(event: OrderEvent) -> str:
    """What the event was, before its details: the transition's label and the move it made, or
    what the pipeline or a person noted without one."""
    if event.transition:
        label = meaning(event.transition).label if event.transition in TRANSITIONS else event.transition
        return f"{label} ({_state(event.source_state)} → {_state(event.target_state)})"
    detail = event.detail or {}
    if waiting := detail.get("waiting"):
        return f"Waiting: {waiting}"
    if message := detail.get("message") or detail.get(DISMISSED):  # the sentence it was written with
        return message
    if event.event_type in EVENT_HEADLINES:
        return EVENT_HEADLINES[event.event_type]
    return event.event_type.removeprefix("order.").replace("_", " ").capitalize() or "Noted"


def event_text(event: OrderEvent) -> str:
    """The event in words: "Payment approved (Processing payment → Paid) · transaction txn_1"."""
    return " · ".join([event_headline(event), *detail_words(event.detail or {})])


def event_kind(event: OrderEvent) -> str:
    if event.transition == "refund" or event.event_type in REFUND_EVENTS:
        return Kind.COMPENSATION if event.actor_kind == Actor.SYSTEM else Kind.REFUND
    if event.transition or event.event_type == "order.created":
        return Kind.TRANSITION
    if event.detail.get("tracking"):  # the carrier's news
        return Kind.CALLBACK
    if event.actor_kind == Actor.STAFF:
        return Kind.STAFF_ACTION
    return Kind.WAIT


def event_entry(event: OrderEvent) -> Entry:
    kind = event_kind(event)
    actor = "Carrier" if kind == Kind.CALLBACK else event.actor_label  # the carrier's news, in its name
    return Entry(event.created_at, kind, event_text(event), actor, event.request_id)


def event_entries(order: Order) -> list[Entry]:
    events = OrderEvent.objects.filter(order=order).select_related("actor").order_by("created_at", "id")
    return [event_entry(event) for event in events]


# --- The store's calls to providers ----------------------------------------------------------

# (provider, operation) → what the call is, and the word for its success.
CALL_WORDS = {
    ("inventory", "check"): ("Inventory check", "confirmed"),
    ("risk", "score"): ("Risk screening", "scored"),
    ("payment", "charge"): ("Payment charge", "approved"),
    ("payment", "refund"): ("Payment refund", "paid"),
    ("payment", "charge_status"): ("Payment status lookup", "answered"),
    ("shipping", "label"): ("Shipping label", "created"),
    ("shipping", "tracking"): ("Tracking lookup", "answered"),
    ("notification", "send"): ("E-mail to the customer", "sent"),
}
OUTCOME_WORDS = {
    ProviderCall.Outcome.DECLINED: "declined",
    ProviderCall.Outcome.PENDING: "pending",
    ProviderCall.Outcome.TIMEOUT: "timed out",
    ProviderCall.Outcome.ERROR: "failed",
}


def call_text(call: ProviderCall) -> str:
    """"Payment charge approved in 312 ms · attempt 2 · key order-12-charge-0"."""
    name, success = CALL_WORDS.get((call.provider, call.operation),
                                   (f"{call.provider.capitalize()} {call.operation.replace('_', ' ')}", "answered"))
    said = OUTCOME_WORDS.get(call.outcome, success)
    reason = f": {call.reason}" if call.reason else ""
    return f"{name} {said} in {call.latency_ms} ms{reason} · attempt {call.attempt} · key {call.idempotency_key}"


def call_entries(order: Order) -> list[Entry]:
    calls = ProviderCall.objects.filter(order_id=order.pk).order_by("created_at", "id")
    return [Entry(call.created_at, Kind.PROVIDER_CALL, call_text(call), "", call.request_id,
                  CallFacts(call.provider, call.operation, call.step, call.idempotency_key, call.attempt, call.outcome,
                            call.latency_ms))
            for call in calls]


# --- The payment provider's callbacks --------------------------------------------------------

CALLBACK_WORDS = {"payment.approved": "the bank approved the payment", "payment.declined": "the bank declined it"}


def callback_text(event: PaymentWebhookEvent) -> str:
    """"Payment callback (the bank approved the payment) applied: Payment approved · event evt_1 · …"."""
    said = CALLBACK_WORDS.get(event.event_type, event.event_type)
    if event.outcome == PaymentWebhookEvent.Outcome.APPLIED:
        label = meaning(event.transition).label if event.transition in TRANSITIONS else event.transition
        what = f"applied: {label}"
    else:
        what = f"{event.get_outcome_display().lower()}: {event.note}" if event.note else event.get_outcome_display()
    payload = event.payload or {}
    parts = [f"Payment callback ({said}) {what}", f"event {event.event_id}"]
    parts += [f"key {payload['key']}"] if payload.get("key") else []
    parts += [f"provider reference {payload['reference']}"] if payload.get("reference") else []
    parts += [f"reason: {payload['reason']}"] if payload.get("reason") else []
    parts += [f"decline code {payload['code']}"] if payload.get("code") else []
    parts += [event.get_unwanted_display()] if event.unwanted else []
    return " · ".join(parts)


def callback_entries(order: Order) -> list[Entry]:
    return [Entry(event.received_at, Kind.CALLBACK, callback_text(event), "Payment provider", event.request_id)
            for event in PaymentWebhookEvent.objects.filter(order=order).order_by("received_at", "id")]


# --- The carrier's tracking updates -------------------------------------------------------------

def tracking_text(event: TrackingEvent) -> str:
    """"Tracking update (in transit, by the carrier's webhook) ignored: order is delivered · … · event trk_1"."""
    parts = [f"Tracking update ({event.status.replace('_', ' ')}, {event.get_via_display().lower()}) ignored"
             + (f": {event.note}" if event.note else "")]
    parts += [event.description] if event.description else []
    parts += [f"at {event.location}"] if event.location else []
    parts += [f"happened {timezone.localtime(event.occurred_at):%Y-%m-%d %H:%M:%S %Z}",
              f"parcel {event.tracking_number}", f"event {event.event_id}"]
    return " · ".join(parts)


def tracking_entries(order: Order) -> list[Entry]:
    """The updates the store ignored; an applied one is the order's event (event_entries) that it wrote."""
    ignored = TrackingEvent.objects.filter(order=order, outcome=TrackingEvent.Outcome.IGNORED)
    return [Entry(event.received_at, Kind.CALLBACK, tracking_text(event), "Carrier", event.request_id)
            for event in ignored.order_by("received_at", "id")]


# --- What the customer was told --------------------------------------------------------------

def email_words(notification: Notification) -> str:
    if notification.email_sent_at:
        return f"e-mail sent {timezone.localtime(notification.email_sent_at):%Y-%m-%d %H:%M:%S}"
    if notification.email_attempts >= EMAIL_ATTEMPTS:
        return f"e-mail not sent: the mail server refused it {notification.email_attempts} times"
    return "e-mail not sent yet" + (f" (tried {notification.email_attempts}×)" if notification.email_attempts else "")


def notification_entries(order: Order) -> list[Entry]:
    """Each notification, with the request id of the event that published it."""
    notifications = list(Notification.objects.filter(order=order).order_by("created_at", "id"))
    published = {notification.event_type.split(":")[0] for notification in notifications}
    request_ids: dict[str, str] = {}
    events = OrderEvent.objects.filter(order=order, event_type__in=published).order_by("created_at", "id")
    for pk, event_type, detail, request_id in events.values_list("pk", "event_type", "detail", "request_id"):
        # An event type notifies once (its first time), but each payment link, partial refund and
        # delivery problem on its own ("<event type>:<its id>", workflows.receivers).
        request_ids.setdefault(event_type, request_id)
        request_ids.setdefault(f"{event_type}:{pk}", request_id)
        for reference in ("payment_link", "refund"):
            if (detail or {}).get(reference):
                request_ids.setdefault(f"{event_type}:{detail[reference]}", request_id)
    return [Entry(notification.created_at, Kind.NOTIFICATION,
                  f"Customer notified: “{notification.title}” · {email_words(notification)}"
                  + (" · read" if notification.read_at else ""),
                  "", request_ids.get(notification.event_type, ""))
            for notification in notifications]


# --- Staff's notes ---------------------------------------------------------------------------

def note_entries(order: Order) -> list[Entry]:
    return [Entry(note.created_at, Kind.STAFF_NOTE, f"Internal note: “{note.text}”",
                  f"{Actor.STAFF.label} {note.author_email or '(deleted account)'}", note.request_id)
            for note in StaffNote.objects.filter(order=order).order_by("created_at", "id")]


# --- The review rules and the hold ----------------------------------------------------------

def evaluation_text(evaluation: RuleEvaluation) -> str:
    """"Review rules asked (2): Held for approval by rule “Big orders”: Order total ($1,049.93) ≥ …"."""
    asked = len(evaluation.outcomes)
    if not asked:
        return "Review rules asked: none enabled · passed"
    deciding = evaluation.deciding
    if not evaluation.applied:  # the pipeline held the order itself: what the rules say, for a person
        verb = {"hold": "would have held it", "reject": "would have rejected it"}.get(evaluation.decision, "")
        head = (f"Review rules asked ({asked}) for staff to read, not applied: {verb} by rule “{deciding['name']}”: "
                f"{deciding['because']}" if deciding else f"Review rules asked ({asked}) for staff to read: no rule "
                                                          f"matched")
    else:
        head = (f"Review rules asked ({asked}): {evaluation.get_decision_display()} by rule “{deciding['name']}”: "
                f"{deciding['because']}" if deciding else f"Review rules asked ({asked}): no rule matched, passed")
    others = [f"rule “{outcome['name']}” {'also matched' if outcome['matched'] else 'did not match'}"
              for outcome in evaluation.outcomes if outcome is not deciding]
    return " · ".join([head, *others])


def evaluation_entries(order: Order) -> list[Entry]:
    return [Entry(evaluation.created_at, Kind.EVALUATION, evaluation_text(evaluation), "", evaluation.request_id)
            for evaluation in RuleEvaluation.objects.filter(order=order).order_by("created_at", "id")]


def hold_entries(order: Order) -> list[Entry]:
    """The hold as it stands (reason, assignee, deadline and what it does), and its deadline's outcome."""
    hold = Hold.objects.filter(order=order).select_related("assignee").first()
    if hold is None:
        return []
    deadline = f"{timezone.localtime(hold.deadline):%Y-%m-%d %H:%M %Z}"
    entries = [Entry(hold.created_at, Kind.HOLD,
                     f"Hold: {hold.reason}" + (f" (rule “{hold.rule_name}”)" if hold.rule_name else "")
                     + f" · assigned to {hold.assignee.email if hold.assignee_id else 'nobody'}"
                     + f" · deadline {deadline}, then: {hold.get_expiry_action_display().lower()}")]
    if hold.expired_at:
        entries.append(Entry(hold.expired_at, Kind.HOLD, f"Hold deadline passed: {hold.expiry_outcome}", "System"))
    return entries


# --- The trace -------------------------------------------------------------------------------

Source = Callable[[Order], Iterable[Entry]]

SOURCES: tuple[Source, ...] = (event_entries, call_entries, callback_entries, tracking_entries, evaluation_entries,
                               hold_entries, notification_entries, note_entries)


def order_trace(*, order_id: int) -> OrderTrace:
    """The order and everything that happened to it, oldest first; NotFound for no such order.
    The caller checks that the reader may see orders (store.permissions.ORDER_VIEW)."""
    order = Order.objects.select_related("owner").filter(pk=order_id).first() if 0 < order_id <= MAX_ID else None
    if order is None:
        raise NotFound(f"Order {order_id} was not found.")
    entries = [entry for source in SOURCES for entry in source(order)]
    return OrderTrace(order, sorted(entries, key=lambda entry: entry.at))
