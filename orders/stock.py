"""Stock reservation: a conditional UPDATE, never a read-modify-write (concurrent checkouts never oversell)."""
from django.db.models import F

from catalog.models import Product
from store.errors import Conflict


class InsufficientStock(Conflict):
    code = "insufficient_stock"


def stock_reserve(*, product: Product, quantity: int) -> None:
    """Take `quantity` units of `product` or raise InsufficientStock (naming the product)."""
    taken = Product.objects.filter(pk=product.pk, is_active=True, stock__gte=quantity).update(
        stock=F("stock") - quantity
    )
    if not taken:
        available = Product.objects.filter(pk=product.pk).values_list("stock", flat=True).first() or 0
        raise InsufficientStock(
            f"Not enough stock for {product.name}: "  # the id is in `fields`; people read names
            f"{quantity} requested, {available} available.",
            fields={"items": {product.public_id: f"only {available} in stock"}},
        )


def stock_release(*, order) -> None:
    """Give an order's reserved units back. Callers hold the order's row lock and flip its
    stock_status in the same transaction, so this runs once per order."""
    for product_id, quantity in order.lines.values_list("product_id", "quantity"):
        Product.objects.filter(pk=product_id).update(stock=F("stock") + quantity)
