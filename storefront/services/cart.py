"""Changing the session cart: quantities are capped by the product's stock and the line limit.

The cart itself (`storefront.cart.Cart`) only stores quantities and the prices lines were added
at; these functions decide how many of a product may go in it and say why when they take
fewer than asked for. Stock is reserved only when the order is placed, so a cart can still go
stale: the cart page shows what changed (storefront.selectors.cart) and checkout re-checks.
"""
from dataclasses import dataclass

from catalog.models import Product
from catalog.selectors import product_get
from storefront.cart import Cart
from storefront.selectors.cart import CartReview, cart_limit_message, cart_line_limit


@dataclass(frozen=True)
class CartChange:
    """What a cart change did: the quantity now in the cart and, when capped, why."""

    product: Product
    requested: int
    quantity: int

    @property
    def limited(self) -> bool:
        return self.quantity < self.requested

    @property
    def limit_message(self) -> str:
        """"Only 5 Laptop Stand in stock" (or the per-order line limit), or "" when not capped."""
        if not self.limited:
            return ""
        return cart_limit_message(self.product)


def cart_set_quantity(*, cart: Cart, public_id: str, quantity: int) -> CartChange:
    """Set the product's quantity (0 removes it), capped by stock. Unknown products raise NotFound."""
    product = product_get(public_id)
    requested = max(0, quantity)
    allowed = min(requested, cart_line_limit(product))
    cart.set(product.public_id, allowed, price=product.price)
    return CartChange(product=product, requested=requested, quantity=allowed)


def cart_add(*, cart: Cart, public_id: str, quantity: int = 1) -> CartChange:
    """Add `quantity` of the product to what the cart already holds, capped by stock."""
    return cart_set_quantity(cart=cart, public_id=public_id, quantity=cart.quantity_of(public_id) + max(1, quantity))


def cart_remove(*, cart: Cart, public_id: str) -> None:
    cart.remove(public_id)


def cart_settle(*, cart: Cart, review: CartReview) -> None:
    """The customer is being shown `review`'s changes: drop the lines that can no longer be
    bought, lower the ones over the stock left and remember today's prices, so each change is
    told once."""
    if review.changed:
        cart.settle(review.settled_items())
