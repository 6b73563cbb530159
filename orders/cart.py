"""The shopping cart, kept in the session: {public_id: quantity}. Works signed out.

Django keeps the session's data when a customer signs in (login() cycles the key, not the
contents), so the cart survives signing in.

Every change gives the cart a new revision. The checkout's idempotency key is made from it
(`checkout_key`): every page rendered from one state of the cart carries the same key, so
submitting two of them (two tabs, a double click) places one order, and a page rendered
before the cart changed no longer matches it.
"""
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase

from catalog.models import Product

SESSION_KEY = "cart"
SESSION_REVISION = "cart_revision"


@dataclass(frozen=True)
class CartLine:
    product: Product
    quantity: int

    @property
    def line_total(self) -> Decimal:
        return self.product.price * self.quantity


class Cart:
    def __init__(self, session: SessionBase) -> None:
        self.session = session

    def _items(self) -> dict[str, int]:
        return dict(self.session.get(SESSION_KEY, {}))

    def _save(self, items: dict[str, int]) -> None:
        self.session[SESSION_KEY] = items
        self.session[SESSION_REVISION] = uuid.uuid4().hex
        self.session.modified = True

    def checkout_key(self) -> str:
        """The idempotency key of a checkout of the cart as it is now (see the module's docstring)."""
        if SESSION_REVISION not in self.session:
            self.session[SESSION_REVISION] = uuid.uuid4().hex
        return f"checkout-{self.session[SESSION_REVISION]}"

    def quantities(self) -> dict[str, int]:
        return self._items()

    def quantity_of(self, public_id: str) -> int:
        return self._items().get(public_id, 0)

    def item_count(self) -> int:
        return sum(self._items().values())

    def set(self, public_id: str, quantity: int) -> None:
        items = self._items()
        if quantity <= 0:
            items.pop(public_id, None)
        else:
            items[public_id] = min(quantity, settings.STORE_MAX_LINE_QUANTITY)
        self._save(items)

    def remove(self, public_id: str) -> None:
        self.set(public_id, 0)

    def clear(self) -> None:
        self._save({})

    def lines(self) -> list[CartLine]:
        """Cart lines with their products (one query); products no longer sold are dropped."""
        items = self._items()
        if not items:
            return []
        products = Product.objects.active().select_related("category").in_bulk(items.keys(), field_name="public_id")
        return [CartLine(products[pid], qty) for pid, qty in items.items() if pid in products]

    @staticmethod
    def total(lines: list[CartLine]) -> Decimal:
        return sum((line.line_total for line in lines), Decimal("0.00"))
