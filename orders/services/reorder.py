"""Trying a failed or cancelled order again: which orders may be, and the payment links staff send.

The customer's "Try again" button and the payment link staff e-mail (`PaymentLink`) both put
the order's lines back in the cart (storefront.services.reorder); an order placed from there
links back to it (`Order.retry_of`, found by `order_retry_source`), and an order is tried
again at most once while its retry is alive (`order_retry_refuse_twice`).
"""
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderEvent, PaymentLink
from orders.signals import order_event
from orders.states import ADDRESS_REFUSED_ENDINGS, PAYMENT_FAILED_ENDINGS, Actor, OrderState
from store.errors import Conflict, NotFound
from store.links import public_url
from store.money import money
from store.request_context import request_id_var

# The orders "Try again" is offered on: they ended without shipping anything.
RETRYABLE_STATES = frozenset({OrderState.FAILED, OrderState.CANCELLED})
PAYMENT_LINK_EVENT = "order.payment_link_sent"
_LINK_SALT = "orders.payment-link"


class LinkRefused(Conflict):
    """A payment link that no longer works (expired, already used): nothing was written."""

    code = "payment_link_refused"


class AlreadyRetried(Conflict):
    """The order was already placed again by an order that did not fail or get cancelled: a
    second one would buy the same things twice. `fields["order_id"]`: that order. Nothing was written."""

    code = "already_retried"


def order_money_outcome(order: Order) -> str:
    """What happened to the customer's money on an order that ended: "No charge was made." or
    "Refunded $1,049.93." (whatever was refunded of a charge), "" while it is not settled."""
    if not order.transaction_id:
        return "No charge was made."
    if order.refunded_amount:
        return f"Refunded {money(order.refunded_amount)}."
    return ""


def order_live_retry(order: Order) -> Order | None:
    """The first order placed again from `order` (Order.retry_of), or from one of its retries
    that failed too, that did not fail or get cancelled (it is under way, or was fulfilled), or None."""
    generation = [order.pk]
    while generation:  # retry_of points to an older order: no cycles
        retries = list(Order.objects.filter(retry_of__in=generation).order_by("created_at", "pk"))
        live = next((retry for retry in retries if retry.state not in RETRYABLE_STATES), None)
        if live is not None:
            return live
        generation = [retry.pk for retry in retries]
    return None


def order_retry_refuse_twice(order: Order) -> None:
    """Raise AlreadyRetried when `order` was already placed again (order_live_retry)."""
    retry = order_live_retry(order)
    if retry is not None:
        raise AlreadyRetried(f"Order {order.number} was already placed again as order {retry.number}.",
                             fields={"order_id": retry.pk})


def order_try_again_offered(*, order: Order, user) -> bool:
    """Whether `user` is offered "Try again" on `order`: their own order, ended without shipping,
    and not placed again already (order_reorder refuses the rest)."""
    return order.state in RETRYABLE_STATES and order.owner_id == user.pk and order_live_retry(order) is None


def order_address_refused(order: Order) -> bool:
    """Whether the order ended because the carrier does not deliver to its address (nothing was
    charged): trying it again means correcting the address."""
    return order.state == OrderState.FAILED and order.events.filter(transition__in=ADDRESS_REFUSED_ENDINGS).exists()


# --- payment links ----------------------------------------------------------------------------

def payment_link_failed(order: Order) -> bool:
    """Whether the order ended because its payment failed (a link lets the customer pay again)."""
    return order.state == OrderState.FAILED and not order.transaction_id and order.events.filter(
        transition__in=PAYMENT_FAILED_ENDINGS).exists()


def payment_link_token(link: PaymentLink) -> str:
    return signing.dumps(link.pk, salt=_LINK_SALT)


def payment_link_url(link: PaymentLink) -> str:
    """The absolute URL the customer opens (the store's public address, store.links, + the storefront's path)."""
    return public_url(reverse("orders:payment_link", kwargs={"token": payment_link_token(link)}))


def payment_link_send(*, order: Order, actor) -> PaymentLink:
    """Create a payment link for `order` and record "payment link sent" on its timeline; the
    e-mail to the owner is written with the event (orders.signals.order_event, event type
    PAYMENT_LINK_EVENT) and sent after commit. Raises Conflict unless the order's payment
    failed, AlreadyRetried when the customer already placed it again. The caller checked
    staff's permission (store.permissions.ORDER_CHANGE)."""
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).select_related("owner").get(pk=order.pk)
        if not payment_link_failed(order):
            raise Conflict(f"Order {order.number} is {order.get_state_display().lower()}: a payment link is only "
                           "sent for an order whose payment failed.")
        order_retry_refuse_twice(order)
        hours = settings.PAYMENT_LINK_MAX_AGE_HOURS
        link = PaymentLink.objects.create(order=order, created_by=actor,
                                          expires_at=timezone.now() + timedelta(hours=hours))
        event = OrderEvent.objects.create(
            order=order, event_type=PAYMENT_LINK_EVENT, source_state=order.state, target_state=order.state,
            actor_kind=Actor.STAFF, actor=actor, actor_email=getattr(actor, "email", "") or "",
            detail={"payment_link": link.pk, "expires_at": f"{link.expires_at:%Y-%m-%d %H:%M} UTC"},
            request_id=request_id_var.get() or "",
        )
        order_event.send(sender=Order, order=order, event=event, payment_link_url=payment_link_url(link))
    return link


def payment_link_id(token: str) -> int:
    """The id of the payment link `token` names (payment_link_token); NotFound for a token that is
    not ours or names no link."""
    try:
        link_id = signing.loads(token, salt=_LINK_SALT)
    except signing.BadSignature:
        raise NotFound("This payment link is not valid.") from None
    if type(link_id) is not int:  # signed by this shop, but not a link's id
        raise NotFound("This payment link is not valid.")
    return link_id


def order_retry_source(*, user, order_id, product_ids) -> Order | None:
    """The customer's own order a checkout retries (storefront's CHECKOUT_RETRY_OF), if it still qualifies:
    it ended unfulfilled and the cart (`product_ids`, its public ids) still holds one of its
    products (a cart emptied and filled with other things is a new purchase, not its retry)."""
    if not order_id:
        return None
    return Order.objects.filter(pk=order_id, owner=user, state__in=RETRYABLE_STATES,
                                lines__product_public_id__in=list(product_ids)).distinct().first()

