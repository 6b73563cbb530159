"""Reads of the session cart against today's catalog: what can be bought now, and what changed.

The cart page, the checkout and the header's badge all count and total the same review, so
they always agree. A line whose product was withdrawn or sold out is not counted; a line
holding more than the stock left counts what can be bought; a line whose price changed since
it was added counts at today's price and says so. The cart page shows those changes once
(storefront.services.cart.cart_settle); until then the header marks the cart as changed.
"""
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from catalog.models import Product
from storefront.cart import Cart, CartItem


def cart_line_limit(product: Product) -> int:
    """How many of `product` one order may hold: its stock, at most STORE_MAX_LINE_QUANTITY."""
    return max(0, min(product.stock, settings.STORE_MAX_LINE_QUANTITY))


def cart_limit_message(product: Product) -> str:
    if product.stock <= 0:
        return f"{product.name} is out of stock"
    if product.stock <= settings.STORE_MAX_LINE_QUANTITY:
        return f"Only {product.stock} {product.name} in stock"
    return f"At most {settings.STORE_MAX_LINE_QUANTITY} {product.name} per order"


@dataclass(frozen=True)
class CartLine:
    """A line that can be bought now, at today's price."""

    product: Product
    quantity: int
    price_was: Decimal | None = None  # the unit price when added, if it changed since
    quantity_was: int | None = None  # the quantity in the cart, if the stock left lowered it

    @property
    def limit(self) -> int:
        return cart_line_limit(self.product)

    @property
    def line_total(self) -> Decimal:
        return self.product.price * self.quantity

    @property
    def lowered_message(self) -> str:
        """"Only 2 Laptop Stand in stock: lowered from 4 to 2", or "" when the stock did not lower it."""
        if self.quantity_was is None:
            return ""
        return f"{cart_limit_message(self.product)}: lowered from {self.quantity_was} to {self.quantity}"


@dataclass(frozen=True)
class CartReview:
    lines: list[CartLine]
    removed: list[str] = field(default_factory=list)  # why each line that can no longer be bought is gone

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def total(self) -> Decimal:
        return sum((line.line_total for line in self.lines), Decimal("0.00"))

    @property
    def changed(self) -> bool:
        """Something changed since the lines were added that the customer has not been shown yet."""
        return bool(self.removed) or any(
            line.price_was is not None or line.quantity_was is not None for line in self.lines
        )

    def settled_items(self) -> dict[str, CartItem]:
        """The cart as it is once these changes are shown: the lines left, at today's prices."""
        return {line.product.public_id: CartItem(line.quantity, line.product.price) for line in self.lines}


def cart_review(*, cart: Cart) -> CartReview:
    """The cart's lines checked against today's catalog (one query)."""
    items = cart.items()
    if not items:
        return CartReview(lines=[])
    products = Product.objects.select_related("category").in_bulk(items.keys(), field_name="public_id")
    lines, removed = [], []
    for pid, item in items.items():
        product = products.get(pid)
        if product is None or not product.is_active:
            name = product.name if product else "A product"
            removed.append(f"{name}: no longer sold — removed from your cart")
            continue
        quantity = min(item.quantity, cart_line_limit(product))
        if quantity <= 0:
            removed.append(f"{cart_limit_message(product)} — removed from your cart")
            continue
        lines.append(CartLine(
            product=product,
            quantity=quantity,
            price_was=item.price if item.price is not None and item.price != product.price else None,
            quantity_was=item.quantity if quantity < item.quantity else None,
        ))
    return CartReview(lines=lines, removed=removed)


def cart_line(review: CartReview, public_id: str) -> CartLine | None:
    return next((line for line in review.lines if line.product.public_id == public_id), None)
