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
from orders.selectors import order_next_step
from orders.services.reorder import LinkRefused, order_retry_refuse_twice, order_retryable, payment_link_id
from orders.states import TERMINAL_STATES
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
    - `merged`: sentences for lines the cart already held, to which ADD added the order's quantity
      ("Mechanical Keyboard: 7 in your cart (5 already there + 2)"), saying when the limit capped it.
    """

    order: Order
    replaced: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    lowered: list[str] = field(default_factory=list)
    repriced: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)


def order_reorder_check(order: Order) -> None:
    """Raise Conflict unless `order` may be tried again: its ending offers Try again
    (orders.services.reorder.order_retryable), AlreadyRetried when it was already placed again."""
    if not order_retryable(order):
        raise Conflict(_not_retryable_message(order))
    order_retry_refuse_twice(order)


def _not_retryable_message(order: Order) -> str:
    """"Order #1001 ended (Out of stock: Desk Mat); there is nothing to try again: shop again
    instead." The ending is the order's `failure_reason`, kept as written (its state for an order
    that did not end so); the step is the first control its ending declares
    (orders.selectors.order_next_step), if any."""
    ending = (f"ended ({order.failure_reason.rstrip('.')})"
              if order.state in TERMINAL_STATES and order.failure_reason
              else f"is {order.get_state_display().lower()}")
    step = order_next_step(order=order) if order.state in TERMINAL_STATES else None
    instead = f": {step.options[0].label.lower()} instead" if step is not None and step.options else ""
    return f"Order {order.number} {ending}; there is nothing to try again{instead}."


def order_reorder_buyable(order: Order) -> bool:
    """Whether at least one of `order`'s products is sold and in stock now (cart_line_limit > 0)."""
    products = Product.objects.filter(pk__in=order.lines.values("product_id"), is_active=True)
    return any(cart_line_limit(product) > 0 for product in products)


def order_reorder(*, order: Order, session: SessionBase, cart_choice: str = ADD) -> Reorder:
    """Put `order`'s lines back in the session's cart and its address into the checkout.

    The caller has checked that the session's user owns `order`. `cart_choice` (CART_CHOICES):
    REPLACE empties the cart first; ADD keeps what it holds, and to a line already in it adds
    the order's quantity. Either way a quantity is capped at the line limit (cart_line_limit:
    today's stock, at most STORE_MAX_LINE_QUANTITY) and the outcome says so; a product no longer
    sold is skipped; prices are today's. When none of the order's products can be bought, the
    cart and the checkout are left as they were (`added` is empty, `gone` names them all).
    Raises Conflict when the order may not be tried again, AlreadyRetried when it was already
    placed again (from another window, or before a payment link was opened)
    (order_reorder_check), and writes nothing then.
    """
    order_reorder_check(order)
    cart = Cart(session)
    outcome = Reorder(order=order)
    lines = list(order.lines.all())
    products = Product.objects.in_bulk([line.product_id for line in lines])
    limits = {}
    for line in lines:
        product = products.get(line.product_id)
        limit = cart_line_limit(product) if product is not None and product.is_active else 0
        if limit <= 0:
            outcome.gone.append(line.name)
        else:
            limits[line.pk] = limit
    if not limits:
        return outcome  # nothing to buy: the cart the customer holds stays as it is
    held = cart_review(cart=cart).lines
    if cart_choice == REPLACE:
        outcome.replaced = [line.product.name for line in held]
        cart.clear()
    else:
        ordered = {line.product_id for line in lines}
        outcome.kept = [line.product.name for line in held if line.product.pk not in ordered]
    for line in lines:
        if line.pk not in limits:
            continue
        product, limit = products[line.product_id], limits[line.pk]
        there = min(cart.quantity_of(product.public_id), limit)
        wanted = there + line.quantity
        quantity = min(wanted, limit)
        cart.set(product.public_id, quantity, price=product.price)
        outcome.added.append(product.name)
        if there:
            capped = f" would be {wanted}; {cart_limit_message(product)}" if quantity < wanted else ""
            outcome.merged.append(f"{product.name}: {quantity} in your cart ({there} already there + "
                                  f"{line.quantity}{capped})")
        elif quantity < line.quantity:
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
