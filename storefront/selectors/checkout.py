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
from orders.shipping import ShippingOption, quote_read, shipping_options
from orders.validators import validate_zip_code
from store.errors import ValidationFailed
from store.money import money

# The session key of the address a previous attempt asks checkout to start with:
# {address, city, state, zip}; removed once an order is placed.
CHECKOUT_PREFILL = "checkout_prefill"
SHIPPING_FIELDS = Address.SHIPPING_FIELDS


@dataclass(frozen=True)
class CheckoutShipping:
    """`initial`: {address, city, state, zip} for the form ({} for none); `addresses`: the
    customer's saved addresses; `chosen`: the saved address `initial` came from, if one did;
    `service`: the shipping service to check first ("standard" | "express"; "" for the default),
    the one of the order a "Try again" or payment link reopens the checkout for."""

    initial: dict[str, str]
    addresses: list[Address] = field(default_factory=list)
    chosen: Address | None = None
    service: str = ""


def _shipping_of(values) -> dict[str, str]:
    return {name: str(values.get(name) or "") for name in SHIPPING_FIELDS}


def checkout_shipping(*, user, prefill: dict | None = None, address_id: str | None = None,
                      retry_of: int | None = None) -> CheckoutShipping:
    """The address checkout starts with for `user` (module docstring). `prefill` is the session's
    CHECKOUT_PREFILL (ignored unless a dict); `address_id` the ?address= the customer picked
    (ignored unless one of their own addresses); `retry_of` the session's CHECKOUT_RETRY_OF, whose
    order's shipping service is checked first (ignored unless one of the user's orders)."""
    service = ""
    if isinstance(retry_of, int):
        service = Order.objects.filter(owner=user, pk=retry_of).values_list("shipping_service", flat=True).first() or ""
    shipping = _checkout_address(user=user, prefill=prefill, address_id=address_id)
    return CheckoutShipping(shipping.initial, shipping.addresses, shipping.chosen, service)


def _checkout_address(*, user, prefill: dict | None, address_id: str | None) -> CheckoutShipping:
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
    else standard), None without options; `changed`: what became of the option chosen before
    when it no longer holds as quoted for the same address and cart ("Standard shipping now costs
    $13.49 (was $10.49)."; "" otherwise).
    """

    quoted_for: str
    options: tuple[ShippingOption, ...] = ()
    degraded: bool = False
    message: str = ""
    problem: str = ""
    selected: ShippingOption | None = None
    changed: str = ""


ENTER_ADDRESS = "Enter your address to see the shipping options and their prices."


def state_normalized(state: str) -> str:
    """A state as checkout keeps it: trimmed, a two-letter code upper-cased ("ny" → "NY") as the
    rate card's zone lookup reads it; a full name stays as typed."""
    state = state.strip()
    return state.upper() if len(state) == 2 and state.isascii() and state.isalpha() else state


def _address_of(shipping: Mapping[str, str]) -> dict[str, str]:
    address = {name: str(shipping.get(name) or "").strip() for name in SHIPPING_FIELDS}
    return {**address, "state": state_normalized(address["state"])}


def shipping_quoted_for(shipping: Mapping[str, str]) -> str:
    """The address of a checkout page as its `shipping_for` field carries it (what the options
    were quoted for): JSON of the four fields, spaces trimmed, the state as state_normalized says."""
    return json.dumps(_address_of(shipping), sort_keys=True)


def _chosen_changed(rate: str, options, address: ShippingAddress, quantities: Mapping[str, int]) -> str:
    """What became of the option `rate` among the fresh `options`, when it was quoted for this
    address and cart (another address or cart is another question, not a change of price)."""
    quote = quote_read(rate)
    if quote is None or not quote.is_for(address, quantities):
        return ""
    fresh = next((option for option in options if option.service == quote.service), None)
    if fresh is None:
        return ""
    if not fresh.available:
        return f"{fresh.label} shipping is unavailable for now."
    if fresh.price != quote.price:
        return f"{fresh.label} shipping now costs {money(fresh.price)} (was {money(quote.price)})."
    return ""


def checkout_shipping_choice(*, shipping: Mapping[str, str], quantities: Mapping[str, int],
                             chosen_service: str = "", chosen_rate: str = "") -> CheckoutShippingChoice:
    """The shipping options checkout shows for `shipping` ({address, city, state, zip}, as typed)
    and the cart's `quantities` ({product id: quantity}); `chosen_service` ("standard" |
    "express" | "") is checked when available, else the first available option; `chosen_rate`,
    the option the page posted, is compared with the fresh one of its service (`changed`). An
    incomplete address gets no options but ENTER_ADDRESS; a complete one whose ZIP code is in
    the wrong shape, the ZIP code's validation message; an address no zone ships to, the reason
    orders.shipping gives."""
    address = _address_of(shipping)
    quoted_for = shipping_quoted_for(address)
    if not all(address.values()) or not quantities:
        return CheckoutShippingChoice(quoted_for, problem=ENTER_ADDRESS)
    try:
        validate_zip_code(address["zip"])
    except DjangoValidationError as error:
        return CheckoutShippingChoice(quoted_for, problem=" ".join(error.messages))
    destination = ShippingAddress(**address)
    try:
        quoted = shipping_options(shipping=destination, lines=dict(quantities))
    except ValidationFailed as error:
        return CheckoutShippingChoice(quoted_for, problem=error.message)
    available = [option for option in quoted.options if option.available]
    selected = next((option for option in available if option.service == chosen_service),
                    available[0] if available else None)
    changed = _chosen_changed(chosen_rate, quoted.options, destination, quantities) if chosen_rate else ""
    return CheckoutShippingChoice(quoted_for, quoted.options, quoted.degraded, quoted.message,
                                  "" if available else quoted.message, selected, changed)
