"""Reads for the checkout page: which shipping address it starts with, and the saved ones it offers.

The form starts with, in this order: the saved address the customer just picked (?address=),
the address a previous attempt left in the session (CHECKOUT_PREFILL, e.g. "Try again" after a
failed order), the address book's default, the customer's last order's address, or nothing.
"""
from dataclasses import dataclass, field

from accounts import selectors as account_selectors
from accounts.models import Address
from orders.models import Order

# The session key of the address a previous attempt asks checkout to start with:
# {address, city, state, zip}; removed once an order is placed.
CHECKOUT_PREFILL = "checkout_prefill"
SHIPPING_FIELDS = Address.SHIPPING_FIELDS


@dataclass(frozen=True)
class CheckoutShipping:
    """`initial`: {address, city, state, zip} for the form ({} for none); `addresses`: the
    customer's saved addresses; `chosen`: the saved address `initial` came from, if one did."""

    initial: dict[str, str]
    addresses: list[Address] = field(default_factory=list)
    chosen: Address | None = None


def _shipping_of(values) -> dict[str, str]:
    return {name: str(values.get(name) or "") for name in SHIPPING_FIELDS}


def checkout_shipping(*, user, prefill: dict | None = None, address_id: str | None = None) -> CheckoutShipping:
    """The address checkout starts with for `user` (module docstring). `prefill` is the session's
    CHECKOUT_PREFILL (ignored unless a dict); `address_id` the ?address= the customer picked
    (ignored unless one of their own addresses)."""
    addresses = list(account_selectors.address_list(user=user))
    by_id = {str(address.pk): address for address in addresses}
    if address_id and address_id in by_id:
        picked = by_id[address_id]
        return CheckoutShipping(picked.shipping(), addresses, picked)
    if isinstance(prefill, dict) and any(prefill.get(name) for name in SHIPPING_FIELDS):
        return CheckoutShipping(_shipping_of(prefill), addresses, _matching(addresses, _shipping_of(prefill)))
    default = next((address for address in addresses if address.is_default), None)
    if default is not None:
        return CheckoutShipping(default.shipping(), addresses, default)
    last = Order.objects.filter(owner=user).order_by("-created_at", "-id").values(
        "ship_address", "ship_city", "ship_state", "ship_zip").first()
    if last is not None:
        shipping = {name: last[f"ship_{name}"] for name in SHIPPING_FIELDS}
        return CheckoutShipping(shipping, addresses, _matching(addresses, shipping))
    return CheckoutShipping({}, addresses)


def _matching(addresses: list[Address], shipping: dict[str, str]) -> Address | None:
    return next((address for address in addresses if address.shipping() == shipping), None)
