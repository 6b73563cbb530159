"""An order's stock: reserved at placement, released once when it ends unshipped, noted as sold
when it ships, returned once when the carrier brings the parcel back, and returned unit by unit
by a refund that restocks. Every move goes through
catalog.stock, which writes the product's ledger row in the same transaction."""
from django.db.models import Q, Sum

from catalog.models import Product, StockReason
from catalog.stock import stock_give, stock_movement_note, stock_take
from store.errors import Conflict


class InsufficientStock(Conflict):
    code = "insufficient_stock"


def stock_reserve(*, product: Product, quantity: int, order_ref: int | None = None, user=None) -> None:
    """Take `quantity` units of `product` for the order `order_ref` or raise InsufficientStock
    (naming the product): a conditional UPDATE, never a read-modify-write, so concurrent
    checkouts never oversell."""
    if not stock_take(product_id=product.pk, quantity=quantity, reason=StockReason.RESERVED,
                      order_ref=order_ref, user=user):
        available = Product.objects.filter(pk=product.pk).values_list("stock", flat=True).first() or 0
        raise InsufficientStock(
            f"Not enough stock for {product.name}: "  # the id is in `fields`; people read names
            f"{quantity} requested, {available} available.",
            fields={"items": {product.public_id: f"only {available} in stock"}},
        )


def stock_release(*, order, user=None) -> None:
    """Give an order's reserved units back, less those a refund already returned to stock.
    Callers hold the order's row lock and flip its stock_status in the same transaction, so
    this runs once per order."""
    for product_id, quantity in _units_not_restocked(order):
        stock_give(product_id=product_id, quantity=quantity, reason=StockReason.RELEASED, order_ref=order.pk, user=user)


def _units_not_restocked(order):
    """(product id, units) of each line, less the units a refund already returned to stock."""
    lines = order.lines.annotate(
        restocked=Sum("refund_lines__quantity", filter=Q(refund_lines__restocked=True))
    ).values_list("product_id", "quantity", "restocked")
    return [(product_id, quantity - (restocked or 0)) for product_id, quantity, restocked in lines]


def stock_returned(*, order, user=None) -> None:
    """Put a returned parcel's units back in stock (less those a refund already restocked). Callers
    hold the order's row lock and flip its stock_status to returned in the same transaction, so
    this runs once per order."""
    for product_id, quantity in _units_not_restocked(order):
        stock_give(product_id=product_id, quantity=quantity, reason=StockReason.RESTOCKED, order_ref=order.pk, user=user)


def stock_sold(*, order) -> None:
    """Note on each product's ledger that the order's reserved units shipped (they moved at reservation)."""
    stock_movement_note(product_ids=order.lines.values_list("product_id", flat=True).distinct(),
                        reason=StockReason.SOLD, order_ref=order.pk)


def stock_restock(*, product_id: int, quantity: int, order_ref: int, user=None) -> None:
    """Return refunded units to stock (staff chose "return these units to stock")."""
    stock_give(product_id=product_id, quantity=quantity, reason=StockReason.RESTOCKED, order_ref=order_ref, user=user)
