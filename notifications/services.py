"""Customer notifications: an in-app row and an e-mail per notified order event, and the
customer marking them read.

The row is written in the transaction that publishes the event (`notification_record`), so
the customer is told exactly when the change committed. The e-mail goes out from the worker
(`notification_send`; the pipeline decides when: workflows.delivery), so a slow mail server
never holds up a customer's or a staff member's request. Rows whose e-mail failed are sent
again by the sweeper, a few times; a claim on the row keeps two senders from sending one
e-mail twice.
"""
import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications.models import Notification
from orders.models import Order, OrderEvent
from orders.services.reorder import order_money_outcome, order_next_step_shown
from providers import registry
from providers.calls import ProviderRequest, call_recorded
from store import turns
from store.money import money

logger = logging.getLogger("notifications.services")

# `{next}`: the next step of the ending or wait the event announces (orders.services.reorder
# order_next_step_shown): its advice and each option's link.
# `{split}`: what the total is made of (Order.money_split); `{refund_split}`: what a refund in
# full gave back of the items and of the shipping ("" when shipping was free).
MESSAGES = {
    "order.created": ("Order {number} received", "Thanks! We received your order {number} for {total}. {split}."),
    "order.held": ("Order {number} is being reviewed",
                   "We are reviewing order {number} ({total}) before taking payment. Nothing was charged yet. "
                   "{next}"),
    "order.paid": ("Payment received for {number}",
                   "Your payment of {total} for order {number} was approved. {split}."),
    "order.shipped": ("Order {number} shipped", "Order {number} is on its way with {carrier}, tracking {tracking}."),
    "order.delivered": ("Order {number} delivered", "Order {number} was delivered. Enjoy! {next}"),
    # The carrier could not deliver (an exception of its tracking) and holds the parcel.
    "order.delivery_exception": (
        "A delivery problem with order {number}",
        "The carrier could not deliver order {number} ({carrier}, tracking {tracking}): {problem} "
        "We will contact you shortly to confirm your address; nothing is needed from you until then.",
    ),
    "order.returned": ("Order {number} returned to us and refunded",
                       "The carrier could not deliver order {number} and returned it to us. We refunded "
                       "{refunded} in all to your card{refund_split}. {next}"),
    "order.cancelled": ("Order {number} cancelled", "Order {number} was cancelled. {reason} {money} {next}"),
    "order.failed": ("Order {number} could not be completed",
                     "We could not complete order {number}: {reason} {money} {next}"),
    "order.refunded": ("Order {number} refunded", "We refunded {refunded} for order {number}{refund_split}. {next}"),
    "order.partially_refunded": ("Partial refund for order {number}",
                                 "We refunded {amount} for order {number}{items}."),
    # Staff sent a link to pay again for an order whose payment failed (orders.services.reorder).
    "order.payment_link_sent": (
        "Complete your order {number}",
        "The payment for order {number} did not go through and no charge was made. To pay with another "
        "card, sign in and open {link} — it opens the checkout with your items and address filled in. "
        "The link works once, until {expires}.",
    ),
}
# How often an e-mail that failed is tried again (by the sweeper, at least a minute apart).
EMAIL_ATTEMPTS = 3
EMAIL_RETRY_AFTER = timedelta(minutes=1)
# How long a sender may take before another may send the same e-mail (the mail server's
# timeout, EMAIL_TIMEOUT, is well inside it).
EMAIL_CLAIM = timedelta(minutes=2)

def sentence(text: str) -> str:
    """`text` ending as a sentence does (reasons are often written without a full stop)."""
    text = text.strip()
    return f"{text}." if text and text[-1] not in ".!?" else text


def event_values(event_type: str, detail: dict) -> dict:
    """What the message of `event_type` takes from its event's `detail` beyond the order's own
    fields: a partial refund's amount and what it gave back, items and shipping ("We refunded
    $49.99 for order #000012: 1 × Wireless Mouse." / "…: 1 × Wireless Mouse and shipping ($12.40)." /
    "…: shipping ($12.40)." for the shipping alone / "We refunded $305.00 for order #000012, of it
    $5.02 for shipping." for an amount that reaches past the items left into the shipping)."""
    if event_type == "order.partially_refunded":
        amount = money(detail.get("amount", ""))
        shipping = money(detail.get("shipping", ""))
        if not detail.get("items"):
            if not shipping:
                return {"amount": amount, "items": ""}
            return {"amount": amount, "items": f": shipping ({shipping})" if shipping == amount
                    else f", of it {shipping} for shipping"}
        parts = [detail["items"], *([f"shipping ({shipping})"] if shipping else [])]
        return {"amount": amount, "items": f": {' and '.join(parts)}"}
    return {}


def refund_split(order: Order) -> str:
    """What a refund in full gave back, once everything is refunded: " ($99.98 for the items and
    $12.40 for shipping)", or "" when shipping was free (the amount says it all)."""
    if not order.shipping_cost:
        return ""
    return f" ({money(order.subtotal)} for the items and {money(order.shipping_cost)} for shipping)"


def notification_text(*, order: Order, event_type: str, values: dict | None = None,
                      entered: OrderEvent | None = None) -> tuple[str, str] | None:
    """(title, body) of the customer's notification of `event_type` for `order` as it is now
    (`values` add to or replace the order's fields and its next step, `next`), or None for an event the customer is not
    told about. `entered`: the event of the transition that brought the order into its state,
    when the caller has it (the next step is read from it then, not from the order's events).
    Nothing is written: notification_record writes it; staff's confirmation of a refund shows it
    before the refund is made."""
    if event_type not in MESSAGES:
        return None
    values = {
        "number": order.number,
        "total": money(order.total),
        "carrier": order.carrier,
        "tracking": order.tracking_number,
        "reason": sentence(order.failure_reason),
        "refunded": money(order.refunded_amount),
        "money": order_money_outcome(order),  # whether money moved: "No charge was made." / "Refunded $1,049.93."
        "split": order.money_split,
        "refund_split": refund_split(order),
        **(values or {}),
    }
    if "{next}" in MESSAGES[event_type][1] and "next" not in values:
        # What the customer may do now, as declared on the transition that ended the order or made it wait.
        shown = order_next_step_shown(order=order, entered=entered)
        values["next"] = shown.email_text if shown is not None else ""
    title, body = (" ".join(text.format(**values).split()) for text in MESSAGES[event_type])
    return title, body


def notification_record(*, order: Order, event_type: str, claimed: bool = False, reference: str = "",
                        values: dict | None = None, event: OrderEvent | None = None) -> Notification | None:
    """Write the customer's notification of `event_type` for `order`, as the order is now.

    `reference` tells apart notifications of one event type an order may have several of (each
    payment link: stored as "<event_type>:<reference>", so each is its own e-mail); `values`
    adds to what the message is formatted with (the link itself); `event` is the event told,
    when the caller has it.

    Call it inside the transaction that publishes the event. Returns None for an event the
    customer is not told about, or one already recorded (a redelivered step). `claimed`: the
    caller e-mails it itself right after the commit (`notification_send(..., claimed=True)`),
    so it is written claimed for EMAIL_CLAIM, as the first sender's UPDATE would have."""
    text = notification_text(order=order, event_type=event_type, values=values, entered=event)
    if text is None:
        return None
    title, body = text
    try:
        with transaction.atomic():
            claim = {"email_attempts": 1, "email_claimed_until": timezone.now() + EMAIL_CLAIM} if claimed else {}
            return Notification.objects.create(
                user=order.owner, order=order, event_type=f"{event_type}:{reference}" if reference else event_type,
                title=title, body=body, **claim
            )
    except IntegrityError:
        return None


def notification_send(notification_id: int, notification: Notification | None = None, *,
                      claimed: bool = False) -> bool:
    """E-mail one recorded notification unless it went out already; True when sent now.

    A sender first claims the row for EMAIL_CLAIM (one conditional UPDATE), so two senders at
    once (the pipeline, a relayed task, the sweeper) never both send it; a sender that dies
    mid-send leaves a claim that runs out, and the sweeper tries again. A failure is logged,
    the claim released and the attempt counted. `claimed`: the row was written claimed by this
    sender (notification_record(claimed=True))."""
    if not claimed:
        now = timezone.now()
        claimed = bool(Notification.objects.filter(pk=notification_id, email_sent_at=None)
                       .filter(Q(email_claimed_until=None) | Q(email_claimed_until__lt=now))
                       .update(email_attempts=F("email_attempts") + 1, email_claimed_until=now + EMAIL_CLAIM))
        if not claimed:
            return False
    if notification is None:
        notification = Notification.objects.select_related("user").get(pk=notification_id)
    key = f"order-{notification.order_id}-{notification.event_type}"

    def send():
        with turns.waiting():  # a pipeline run lets the others work while the mail provider answers
            return registry.notification().send(key=key, to=notification.user.email, subject=notification.title,
                                                body=notification.body)

    try:
        # Recorded outside the wait: a run writes to the database only in its turn.
        call_recorded(ProviderRequest("notification", "send", key, notification.order_id), send)
    except Exception:  # the in-app notification stands; the sweeper tries the e-mail again
        logger.exception("e-mail for %s failed", notification.event_type, extra={"order_id": notification.order_id})
        Notification.objects.filter(pk=notification_id).update(email_claimed_until=None)
        return False
    Notification.objects.filter(pk=notification_id).update(email_sent_at=timezone.now(), email_claimed_until=None)
    return True


def notification_send_pending(*, order_id: int, event_type: str) -> bool:
    """E-mail the order's recorded `event_type` notification if it has not gone out yet."""
    notification = (Notification.objects.select_related("user")
                    .filter(order_id=order_id, event_type=event_type, email_sent_at=None).first())
    return notification is not None and notification_send(notification.pk, notification)


def notifications_resend(*, now=None, limit: int = 200) -> int:
    """Sweeper: try again the e-mails that failed or were never sent (at most EMAIL_ATTEMPTS
    tries each, none that a sender holds); returns how many went out."""
    now = now or timezone.now()
    due = (Notification.objects.filter(email_sent_at=None, email_attempts__lt=EMAIL_ATTEMPTS,
                                       created_at__lt=now - EMAIL_RETRY_AFTER)
           .order_by("created_at").values_list("pk", flat=True)[:limit])
    return sum(notification_send(pk) for pk in list(due))


def notify(*, order_id: int, event_type: str) -> Notification | None:
    """Record and e-mail at once (for the shell and tests: the services record and dispatch)."""
    with transaction.atomic():
        notification = notification_record(order=Order.objects.get(pk=order_id), event_type=event_type)
    if notification is not None:
        notification_send(notification.pk)
    return notification


def notification_mark_read(*, user, notification_id: int) -> bool:
    """Mark one of the user's notifications read; False when it is not theirs or already read."""
    return bool(
        Notification.objects.filter(user=user, pk=notification_id, read_at__isnull=True).update(read_at=timezone.now())
    )


def notification_mark_all_read(*, user) -> int:
    """Mark every unread notification of the user read; returns how many."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
