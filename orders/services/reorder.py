"""Trying a failed or cancelled order again: its lines back in the cart, its address in the checkout.

The customer's "Try again" button and the payment link staff e-mail (`PaymentLink`) both end
in `order_reorder`: the order's products that are still sold go into the session cart at
today's prices, the shipping address goes into the session under CHECKOUT_PREFILL (the
checkout form's initial data, ahead of anything else) and the order's id under
CHECKOUT_RETRY_OF, so the order the customer then places links back to it (`Order.retry_of`).
The checkout drops both keys once an order is placed (`checkout_prefill_clear`).
"""
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from catalog.models import Product
from orders.cart import Cart
from orders.cart_selectors import cart_limit_message, cart_line_limit
from orders.checkout_selectors import CHECKOUT_PREFILL
from orders.models import Order, OrderEvent, PaymentLink
from orders.signals import order_event
from orders.states import Actor, OrderState
from store.errors import Conflict, NotFound
from store.links import public_url
from store.request_context import request_id_var

CHECKOUT_RETRY_OF = "checkout_retry_of"
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


@dataclass
class Reorder:
    """What went back into the cart. Product names only, never ids.

    - `added`: names of the products put in the cart;
    - `gone`: names no longer sold or sold out, left out;
    - `lowered`: sentences for lines the stock left lowered ("Only 2 Desk Mat in stock");
    - `repriced`: sentences for lines whose price changed since the order ("Desk Mat now costs $12.00 (was $10.00)").
    """

    order: Order
    added: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    lowered: list[str] = field(default_factory=list)
    repriced: list[str] = field(default_factory=list)


def order_money_outcome(order: Order) -> str:
    """What happened to the customer's money on an order that ended: "No charge was made." or
    "Refunded $X.XX." (whatever was refunded of a charge), "" while it is not settled."""
    if not order.transaction_id:
        return "No charge was made."
    if order.refunded_amount:
        return f"Refunded ${order.refunded_amount:,.2f}."
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


def order_reorder(*, order: Order, session: SessionBase) -> Reorder:
    """Put `order`'s lines back in the session's cart and its address into the checkout.

    The caller has checked that the session's user owns `order`. A product no longer sold is
    skipped; a quantity over today's stock is lowered to it; prices are today's. A line
    already in the cart is raised to the order's quantity, never doubled. Raises Conflict when
    the order did not end (nothing to try again), AlreadyRetried when it was already placed
    again (from another window, or before a payment link was opened), and writes nothing then.
    """
    if order.state not in RETRYABLE_STATES:
        raise Conflict(f"Order {order.number} is {order.get_state_display().lower()}; there is nothing to try again.")
    order_retry_refuse_twice(order)
    cart = Cart(session)
    lines = list(order.lines.all())
    products = Product.objects.in_bulk([line.product_id for line in lines])
    outcome = Reorder(order=order)
    for line in lines:
        product = products.get(line.product_id)
        limit = cart_line_limit(product) if product is not None and product.is_active else 0
        if limit <= 0:
            outcome.gone.append(line.name)
            continue
        quantity = min(max(line.quantity, cart.quantity_of(product.public_id)), limit)
        cart.set(product.public_id, quantity, price=product.price)
        outcome.added.append(product.name)
        if quantity < line.quantity:
            outcome.lowered.append(f"{cart_limit_message(product)}: {quantity} instead of {line.quantity}")
        if product.price != line.unit_price:
            outcome.repriced.append(f"{product.name} now costs ${product.price:,.2f} (was ${line.unit_price:,.2f})")
    session[CHECKOUT_PREFILL] = order.ship_to()
    session[CHECKOUT_RETRY_OF] = order.pk
    return outcome


def checkout_prefill_clear(*, session: SessionBase) -> None:
    """An order was placed: the checkout starts afresh next time."""
    session.pop(CHECKOUT_PREFILL, None)
    session.pop(CHECKOUT_RETRY_OF, None)


# --- payment links ----------------------------------------------------------------------------

def payment_link_failed(order: Order) -> bool:
    """Whether the order ended because its payment failed (a link lets the customer pay again)."""
    return order.state == OrderState.FAILED and not order.transaction_id and order.events.filter(
        transition__in=("abandon_payment", "payment_expired")).exists()


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


def payment_link_redeem(*, token: str, user, session: SessionBase) -> Reorder:
    """Open a payment link as `user`: mark it used and fill the cart and checkout (order_reorder).

    NotFound for a token that is not ours or a link of another customer's order (nothing is
    said about it); LinkRefused for an expired or used link (`fields["order_id"]`: the order);
    Conflict when the order no longer failed. Either way nothing is written.
    """
    try:
        link_id = signing.loads(token, salt=_LINK_SALT)
    except signing.BadSignature:
        raise NotFound("This payment link is not valid.") from None
    if type(link_id) is not int:  # signed by this shop, but not a link's id
        raise NotFound("This payment link is not valid.")
    with transaction.atomic():
        link = PaymentLink.objects.select_for_update().select_related("order").filter(pk=link_id).first()
        if link is None or link.order.owner_id != getattr(user, "pk", None):
            raise NotFound("This payment link is not valid.")
        number = link.order.number
        if link.used_at is not None:
            raise LinkRefused(f"This payment link for order {number} was already used. Open the order to try "
                              "again, or ask the shop for a new link.", fields={"order_id": link.order_id})
        if link.expires_at <= timezone.now():
            raise LinkRefused(f"This payment link for order {number} has expired. Open the order to try again, "
                              "or ask the shop for a new link.", fields={"order_id": link.order_id})
        outcome = order_reorder(order=link.order, session=session)
        link.used_at = timezone.now()
        link.save(update_fields=["used_at"])
    return outcome


def order_retry_source(*, user, order_id, product_ids) -> Order | None:
    """The customer's own order a checkout retries (CHECKOUT_RETRY_OF), if it still qualifies:
    it ended unfulfilled and the cart (`product_ids`, its public ids) still holds one of its
    products (a cart emptied and filled with other things is a new purchase, not its retry)."""
    if not order_id:
        return None
    return Order.objects.filter(pk=order_id, owner=user, state__in=RETRYABLE_STATES,
                                lines__product_public_id__in=list(product_ids)).distinct().first()

