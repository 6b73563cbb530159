"""Writes to the catalog: staff create, edit and withdraw products (stock moves through catalog.stock)."""
from decimal import Decimal

from auditlog.models import LogEntry
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from catalog.models import Category, Product
from catalog.selectors import category_find, product_next_public_id
from catalog.stock import stock_opened, stock_set
from catalog.validators import validate_image_name
from store.audit import staff_action_record
from store.errors import Conflict, ValidationFailed

EDITABLE_FIELDS = ("name", "description", "price", "stock", "weight_grams", "category", "image", "is_active",
                   "low_stock_threshold")


def _category(name: str) -> Category:
    category = category_find(name)
    if category is None:
        message = f"Unknown category {name!r}."
        raise ValidationFailed(message, fields={"category": [message]})
    return category


def _check_image(image: str) -> None:
    try:
        validate_image_name(image)
    except DjangoValidationError as error:
        raise ValidationFailed(error.messages[0], fields={"image": error.messages}) from None


def product_create(
    *,
    name: str,
    price: Decimal,
    category: str,
    description: str = "",
    stock: int = 0,
    weight_grams: int | None = None,
    image: str = "",
    is_active: bool = True,
    public_id: str | None = None,
    actor: AbstractBaseUser | None = None,
) -> Product:
    """Add a product to a category given by name or slug; the id defaults to the next "prod-NNN",
    `weight_grams` (one unit packed, 1..30000) to the model's default."""
    category_obj = _category(category)
    _check_image(image)
    public_id = public_id or product_next_public_id()
    try:
        with transaction.atomic():
            product = Product.objects.create(
                public_id=public_id,
                name=name,
                description=description,
                price=price,
                stock=stock,
                **({"weight_grams": weight_grams} if weight_grams is not None else {}),
                category=category_obj,
                image=image or category_obj.image,
                is_active=is_active,
            )
            stock_opened(product=product, user=actor)
            return product
    except IntegrityError:
        raise Conflict(f"A product with id {public_id!r} already exists.", fields={"id": ["Already taken."]}) from None


class StockMoved(Conflict):
    """Orders moved a product's stock since its editor read it: nothing of the edit was written."""

    code = "stock_changed"


def product_update(
    *, product: Product, actor: AbstractBaseUser | None = None, stock_seen: int | None = None, **changes
) -> Product:
    """Change the given fields only (`category` by name or slug); other columns are not written.

    Stock moves under concurrent orders through conditional UPDATEs, so saving every field of
    an instance loaded earlier would put a stale stock back. A new `stock` therefore comes with
    `stock_seen`, the number its editor read, and is set by `product_stock_set`: when orders
    moved it meanwhile, StockMoved names today's number and nothing of the change is written.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {sorted(unknown)}")
    if "stock" in changes and stock_seen is None:
        raise ValueError("A stock edit needs stock_seen, the stock its editor read.")
    if "category" in changes:
        changes["category"] = _category(changes["category"])
    if "image" in changes:
        _check_image(changes["image"])
    with transaction.atomic():  # the audit trail's entries are written with the change, or not at all
        if "stock" in changes:
            wanted = changes.pop("stock")
            if not product_stock_set(product=product, seen=stock_seen, wanted=wanted, actor=actor):
                current = Product.objects.filter(pk=product.pk).values_list("stock", flat=True).get()
                raise StockMoved(
                    f"Orders moved the stock of {product.name} from {stock_seen} to {current} since it was read; "
                    f"nothing was saved. Send the stock you want again with the stock it is now ({current}).",
                    fields={"expectedStock": [f"The stock is {current} now."]},
                )
            product.stock = wanted
        for field, value in changes.items():
            setattr(product, field, value)
        if changes:
            product.save(update_fields=[*changes, "updated_at"])
    return product


def product_stock_set(*, product: Product, seen: int, wanted: int, actor: AbstractBaseUser | None = None) -> bool:
    """Set a product's stock to `wanted` if it is still `seen`, the number its editor saw.

    Orders reserve and release stock while an edit page is open; setting the number only when
    nothing moved it keeps every reservation. True when the stock is `wanted` afterwards,
    False when orders moved it: then nothing is written and the editor must look again. An
    edit submitted again is recognised by the audit trail's last stock change being this one
    (`seen` → `wanted`) and answered True without a second change; a stock that merely
    happens to equal `wanted` after orders moved it is a conflict, or the editor's change
    would be lost. A change made is recorded in the audit trail as `actor`'s (a queryset
    update passes django-auditlog by).
    """
    with transaction.atomic():
        if stock_set(product_id=product.pk, seen=seen, wanted=wanted, user=actor):
            if seen != wanted:
                staff_action_record(actor=actor, obj=product, action="stock_set",
                                    changes={"stock": [str(seen), str(wanted)]}, detail={})
            return True
        if not Product.objects.filter(pk=product.pk, stock=wanted).exists():
            return False
        last = (LogEntry.objects.get_for_object(product).filter(additional_data__action="stock_set")
                .order_by("-timestamp", "-pk").first())
        return last is not None and last.changes_dict.get("stock") == [str(seen), str(wanted)]


def product_deactivate(*, product: Product) -> Product:
    """Withdraw a product from sale. It stays in the database: past orders keep referring to it."""
    return product_update(product=product, is_active=False)
