"""Changing the session cart: quantities are capped by the product's stock and the line limit.

The cart itself (`orders.cart.Cart`) only stores {public_id: quantity}; these functions decide
how many of a product may go in it and say why when they take fewer than asked for. Stock is
reserved only when the order is placed, so a cart can still go stale; checkout re-checks.
"""
from dataclasses import dataclass

from django.conf import settings

from catalog.models import Product
from catalog.selectors import product_get
from orders.cart import Cart


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


def cart_line_limit(product: Product) -> int:
    """How many of `product` one order may hold: its stock, at most STORE_MAX_LINE_QUANTITY."""
    return max(0, min(product.stock, settings.STORE_MAX_LINE_QUANTITY))


def cart_limit_message(product: Product) -> str:
    if product.stock <= 0:
        return f"{product.name} is out of stock"
    if product.stock <= settings.STORE_MAX_LINE_QUANTITY:
        return f"Only {product.stock} {product.name} in stock"
    return f"At most {settings.STORE_MAX_LINE_QUANTITY} {product.name} per order"


def cart_set_quantity(*, cart: Cart, public_id: str, quantity: int) -> CartChange:
    """Set the product's quantity (0 removes it), capped by stock. Unknown products raise NotFound."""
    product = product_get(public_id)
    requested = max(0, quantity)
    allowed = min(requested, cart_line_limit(product))
    cart.set(product.public_id, allowed)
    return CartChange(product=product, requested=requested, quantity=allowed)


def cart_add(*, cart: Cart, public_id: str, quantity: int = 1) -> CartChange:
    """Add `quantity` of the product to what the cart already holds, capped by stock."""
    return cart_set_quantity(cart=cart, public_id=public_id, quantity=cart.quantity_of(public_id) + max(1, quantity))


def cart_remove(*, cart: Cart, public_id: str) -> None:
    cart.remove(public_id)
