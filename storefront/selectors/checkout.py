"""Reads for the checkout page: which shipping address it starts with, the saved ones it offers,
and the shipping options it shows for an address.

The form starts with, in this order: the saved address the customer just picked (?address=),
the address a previous attempt left in the session (CHECKOUT_PREFILL, e.g. "Try again" after a
failed order), the address book's default, the customer's last order's address, or nothing.
"""
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError as DjangoValidationError

from accounts import selectors as account_selectors
from accounts.models import Address
from orders.models import Order
from orders.services import ShippingAddress
from orders.shipping import ShippingOption, shipping_options
from orders.validators import validate_zip_code
from store.errors import ValidationFailed

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


@dataclass(frozen=True)
class CheckoutShippingChoice:
    """The shipping part of a checkout page for one address and cart.

    `quoted_for`: the address the options are for, as the page carries it back (`shipping_for`,
    JSON of {address, city, state, zip}); `options`: orders.shipping's options, standard first
    (() until the address is complete, or when no zone ships there); `degraded` and `message` as
    orders.shipping.ShippingOptions says them; `problem`: what the customer should do instead
    ("" when there are options); `selected`: the option the page checks (the one chosen before,
    else standard), None without options.
    """

    quoted_for: str
    options: tuple[ShippingOption, ...] = ()
    degraded: bool = False
    message: str = ""
    problem: str = ""
    selected: ShippingOption | None = None


ENTER_ADDRESS = "Enter your address to see the shipping options and their prices."


def shipping_quoted_for(shipping: Mapping[str, str]) -> str:
    """The address of a checkout page as its `shipping_for` field carries it (what the options
    were quoted for): JSON of the four fields, spaces trimmed."""
    return json.dumps({name: str(shipping.get(name) or "").strip() for name in SHIPPING_FIELDS}, sort_keys=True)


def checkout_shipping_choice(*, shipping: Mapping[str, str], quantities: Mapping[str, int],
                             chosen_service: str = "") -> CheckoutShippingChoice:
    """The shipping options checkout shows for `shipping` ({address, city, state, zip}, as typed)
    and the cart's `quantities` ({product id: quantity}); `chosen_service` ("standard" |
    "express" | "") is checked when available, else the first available option. An incomplete
    address or a ZIP code in the wrong shape gets no options but ENTER_ADDRESS; an address no
    zone ships to, the reason orders.shipping gives."""
    address = {name: str(shipping.get(name) or "").strip() for name in SHIPPING_FIELDS}
    quoted_for = shipping_quoted_for(address)
    try:
        validate_zip_code(address["zip"])
    except DjangoValidationError:
        return CheckoutShippingChoice(quoted_for, problem=ENTER_ADDRESS)
    if not all(address.values()) or not quantities:
        return CheckoutShippingChoice(quoted_for, problem=ENTER_ADDRESS)
    try:
        quoted = shipping_options(shipping=ShippingAddress(**address), lines=dict(quantities))
    except ValidationFailed as error:
        return CheckoutShippingChoice(quoted_for, problem=error.message)
    available = [option for option in quoted.options if option.available]
    selected = next((option for option in available if option.service == chosen_service),
                    available[0] if available else None)
    return CheckoutShippingChoice(quoted_for, quoted.options, quoted.degraded, quoted.message,
                                  "" if available else quoted.message, selected)
