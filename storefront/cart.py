"""The shopping cart, kept in the session: {public_id: {"quantity": n, "price": "9.99"}}. Works signed out.

`price` is the product's unit price when the line was added, so the cart page can say when
it changed since (storefront.selectors.cart). Carts stored before prices were remembered hold
{public_id: quantity}; their lines read as having no remembered price, i.e. not repriced.

Django keeps the session's data when a customer signs in (login() cycles the key, not the
contents), so the cart survives signing in.

Every change of quantities gives the cart a new revision. The checkout's idempotency key is
made from it (`checkout_key`): every page rendered from one state of the cart carries the
same key, so submitting two of them (two tabs, a double click) places one order, and a page
rendered before the cart changed no longer matches it.
"""
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase

SESSION_KEY = "cart"
SESSION_REVISION = "cart_revision"


@dataclass(frozen=True)
class CartItem:
    """One line as the session holds it: how many, and the unit price when added (None if unknown)."""

    quantity: int
    price: Decimal | None = None


def _item(value) -> CartItem:
    if isinstance(value, dict):
        try:
            price = Decimal(value["price"]) if value.get("price") is not None else None
        except (InvalidOperation, TypeError):
            price = None
        return CartItem(int(value.get("quantity", 0)), price)
    # A cart stored before prices were remembered; can go once SESSION_COOKIE_AGE has passed since then.
    return CartItem(int(value))


class Cart:
    def __init__(self, session: SessionBase) -> None:
        self.session = session

    def items(self) -> dict[str, CartItem]:
        return {pid: _item(value) for pid, value in self.session.get(SESSION_KEY, {}).items()}

    def _save(self, items: dict[str, CartItem], *, revise: bool = True) -> None:
        self.session[SESSION_KEY] = {
            pid: {"quantity": item.quantity, "price": None if item.price is None else str(item.price)}
            for pid, item in items.items()
        }
        if revise:
            self.session[SESSION_REVISION] = uuid.uuid4().hex
        self.session.modified = True

    def checkout_key(self) -> str:
        """The idempotency key of a checkout of the cart as it is now (see the module's docstring)."""
        if SESSION_REVISION not in self.session:
            self.session[SESSION_REVISION] = uuid.uuid4().hex
        return f"checkout-{self.session[SESSION_REVISION]}"

    def quantities(self) -> dict[str, int]:
        return {pid: item.quantity for pid, item in self.items().items()}

    def quantity_of(self, public_id: str) -> int:
        item = self.items().get(public_id)
        return item.quantity if item else 0

    def set(self, public_id: str, quantity: int, *, price: Decimal) -> None:
        """Set a line's quantity (0 removes it). `price` is remembered for a new line (or one
        without a remembered price); a line in the cart keeps the price it was added at, so a
        change since is still shown."""
        items = self.items()
        if quantity <= 0:
            items.pop(public_id, None)
        else:
            remembered = items[public_id].price if public_id in items else None
            items[public_id] = CartItem(min(quantity, settings.STORE_MAX_LINE_QUANTITY),
                                        price if remembered is None else remembered)
        self._save(items)

    def remove(self, public_id: str) -> None:
        items = self.items()
        items.pop(public_id, None)
        self._save(items)

    def clear(self) -> None:
        self._save({})

    def settle(self, items: dict[str, CartItem]) -> None:
        """Replace the lines with `items` (a review's outcome, shown to the customer). Remembering
        new prices alone keeps the revision: what a checkout would place is unchanged."""
        self._save(items, revise={pid: item.quantity for pid, item in items.items()} != self.quantities())
