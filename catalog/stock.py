"""Moving a product's stock: every change is an F() or conditional UPDATE plus its ledger row
(`StockMovement`), written together in one transaction, so the ledger always sums to the stock.

Callers name why (`StockReason`), the order it was for (its id) and the person, when there is one.
"""
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from catalog.models import Product, StockMovement, StockReason


def stock_take(*, product_id: int, quantity: int, reason: str = StockReason.RESERVED,
               order_ref: int | None = None, user=None) -> bool:
    """Take `quantity` units if the active product has them (one conditional UPDATE, never a
    read-modify-write); False when it has not, and nothing is written."""
    with transaction.atomic():
        taken = Product.objects.filter(pk=product_id, is_active=True, stock__gte=quantity).update(
            stock=F("stock") - quantity
        )
        if taken:
            StockMovement.objects.create(product_id=product_id, delta=-quantity, reason=reason,
                                         order_ref=order_ref, user=user)
        return bool(taken)


def stock_give(*, product_id: int, quantity: int, reason: str, order_ref: int | None = None, user=None) -> None:
    """Add `quantity` units back (a release, a restock), with its ledger row."""
    if quantity <= 0:
        return
    with transaction.atomic():
        Product.objects.filter(pk=product_id).update(stock=F("stock") + quantity)
        StockMovement.objects.create(product_id=product_id, delta=quantity, reason=reason,
                                     order_ref=order_ref, user=user)


def stock_set(*, product_id: int, seen: int, wanted: int, user=None) -> bool:
    """Set the stock to `wanted` if it is still `seen` (staff's edit); True when it was set."""
    with transaction.atomic():
        if not Product.objects.filter(pk=product_id, stock=seen).update(stock=wanted, updated_at=timezone.now()):
            return False
        if wanted != seen:
            StockMovement.objects.create(product_id=product_id, delta=wanted - seen, reason=StockReason.STAFF_EDIT,
                                         user=user)
        return True


def stock_movement_note(*, product_ids: Iterable[int], reason: str, order_ref: int | None = None) -> None:
    """A row of 0 per product: what happened to units already taken (sold with a shipped order)."""
    StockMovement.objects.bulk_create(
        StockMovement(product_id=product_id, delta=0, reason=reason, order_ref=order_ref) for product_id in product_ids
    )


def stock_opened(*, product: Product, reason: str = StockReason.CREATED, user=None) -> StockMovement | None:
    """The first row of a new product's ledger: the stock it was created with."""
    return StockMovement.objects.create(product=product, delta=product.stock, reason=reason, user=user)


def stock_openings_record() -> int:
    """An opening row for every product whose ledger is empty (loaded with loaddata, or older
    than the ledger), carrying its stock today; returns how many were written."""
    products = Product.objects.filter(stock_movements__isnull=True).values_list("pk", "stock")
    rows = [StockMovement(product_id=pk, delta=stock, reason=StockReason.OPENING) for pk, stock in products]
    StockMovement.objects.bulk_create(rows)
    return len(rows)

