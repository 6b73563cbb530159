"""Trying a failed or cancelled order again: its lines back in the cart, its address in the checkout.

The customer's "Try again" button and the payment link staff e-mail (`PaymentLink`) both end
in `order_reorder`: the order's products that are still sold go into the session cart at
today's prices, the shipping address goes into the session under CHECKOUT_PREFILL (the
checkout form's initial data, ahead of anything else) and the order's id under
CHECKOUT_RETRY_OF, so the order the customer then places links back to it (`Order.retry_of`).
The checkout drops both keys once an order is placed (`checkout_prefill_clear`).
"""
from dataclasses import dataclass, field

from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.utils import timezone

from catalog.models import Product
from orders.models import Order, PaymentLink
from orders.services.reorder import LinkRefused, order_retry_refuse_twice, order_retryable, payment_link_id
from store.errors import Conflict, NotFound
from store.money import money
from storefront.cart import Cart
from storefront.selectors.cart import cart_limit_message, cart_line_limit, cart_review
from storefront.selectors.checkout import CHECKOUT_PREFILL

CHECKOUT_RETRY_OF = "checkout_retry_of"
# What Try again does with a cart that already holds something: the customer's choice.
REPLACE, ADD = "replace", "add"
CART_CHOICES = (REPLACE, ADD)


@dataclass
class Reorder:
    """What went back into the cart. Product names only, never ids.

    - `added`: names of the products put in the cart;
    - `gone`: names no longer sold or sold out, left out;
    - `lowered`: sentences for lines the stock left lowered ("Only 2 Desk Mat in stock");
    - `repriced`: sentences for lines whose price changed since the order ("Desk Mat now costs $12.00 (was $10.00)").
    - `replaced`: names of what the cart held before and no longer holds (the customer chose REPLACE);
      `kept`: names of what it held and still holds beside the order's lines (ADD).
    """

    order: Order
    replaced: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    lowered: list[str] = field(default_factory=list)
    repriced: list[str] = field(default_factory=list)


def order_reorder_check(order: Order) -> None:
    """Raise Conflict unless `order` may be tried again: its ending offers Try again
    (orders.services.reorder.order_retryable), AlreadyRetried when it was already placed again."""
    if not order_retryable(order):
        raise Conflict(f"Order {order.number} is {order.get_state_display().lower()}; there is nothing to try again.")
    order_retry_refuse_twice(order)


def order_reorder(*, order: Order, session: SessionBase, cart_choice: str = ADD) -> Reorder:
    """Put `order`'s lines back in the session's cart and its address into the checkout.

    The caller has checked that the session's user owns `order`. `cart_choice` (CART_CHOICES):
    REPLACE empties the cart first; ADD keeps what it holds, and a line already in it is raised
    to the order's quantity, never doubled. A product no longer sold is skipped; a quantity over
    today's stock is lowered to it; prices are today's. Raises Conflict when the order may not
    be tried again, AlreadyRetried when it was already placed again (from another window, or
    before a payment link was opened) (order_reorder_check), and writes nothing then.
    """
    order_reorder_check(order)
    cart = Cart(session)
    outcome = Reorder(order=order)
    held = cart_review(cart=cart).lines
    if cart_choice == REPLACE:
        outcome.replaced = [line.product.name for line in held]
        cart.clear()
    lines = list(order.lines.all())
    if cart_choice != REPLACE:
        ordered = {line.product_id for line in lines}
        outcome.kept = [line.product.name for line in held if line.product.pk not in ordered]
    products = Product.objects.in_bulk([line.product_id for line in lines])
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
            outcome.repriced.append(f"{product.name} now costs {money(product.price)} (was {money(line.unit_price)})")
    session[CHECKOUT_PREFILL] = order.ship_to()
    session[CHECKOUT_RETRY_OF] = order.pk
    return outcome


def checkout_prefill_clear(*, session: SessionBase) -> None:
    """An order was placed: the checkout starts afresh next time."""
    session.pop(CHECKOUT_PREFILL, None)
    session.pop(CHECKOUT_RETRY_OF, None)


def payment_link_redeem(*, token: str, user, session: SessionBase) -> Reorder:
    """Open a payment link as `user`: mark it used and fill the cart and checkout (order_reorder).

    NotFound for a token that is not ours or a link of another customer's order (nothing is
    said about it); LinkRefused for an expired or used link (`fields["order_id"]`: the order);
    Conflict when the order no longer failed. Either way nothing is written.
    """
    link_id = payment_link_id(token)
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
