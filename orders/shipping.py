"""What shipping an order costs: the options a customer chooses among, and the check at submit
that the chosen one still holds.

The carrier quotes each service (providers.base.ShippingProvider.rates, the "rates" role's
circuit and outage, SHIPPING_RATES_TIMEOUT seconds); standard ships free when the items come to
FREE_SHIPPING_THRESHOLD or more. When the carrier cannot quote (a timeout, an outage, its circuit
open) the options are degraded: standard at the shop's rate card price (providers.rates), express
unavailable; the shop never guesses a price it cannot stand by.

A chosen option travels as its `id`, a signed quote (django.core.signing, salt QUOTE_SALT) of the
service, the price the customer pays, digests of the normalised address and of the cart's lines,
and its expiry (SHIPPING_QUOTE_MAX_AGE seconds after the quote). `shipping_confirmed` checks it at
submit and asks the carrier again: a quote whose address, cart or price no longer holds, or that
expired, raises ShippingChanged saying what changed.
"""
import hashlib
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core import signing
from django.utils import timezone

from catalog.models import Product
from orders.models import Order
from providers import breakers, registry
from providers.base import Destination, GatewayTimeout, Parcel
from providers.models import ShippingService
from providers.rates import RateQuote, rate_card_quotes
from providers.steps import RATES
from store.errors import Conflict, ProviderUnavailable, ValidationFailed
from store.money import money

QUOTE_SALT = "orders.shipping.quote"
STANDARD = ShippingService.STANDARD.value
EXPRESS = ShippingService.EXPRESS.value
ZERO = Decimal("0.00")
UNAVAILABLE = "Unavailable for now"
# Retry-After when the carrier could not quote and the rates circuit's cool-down end is unknown.
RATES_RETRY_SECONDS = 30
# The most shipping an order holds: Order.shipping_cost's digits.
MAX_SHIPPING = Decimal(10) ** (Order._meta.get_field("shipping_cost").max_digits
                               - Order._meta.get_field("shipping_cost").decimal_places) - Decimal("0.01")
DEGRADED_MESSAGE = ("The carrier cannot quote right now: standard shipping is priced from our rate card, and "
                    "express shipping is unavailable for now.")


@dataclass(frozen=True)
class ShippingAddress:
    address: str
    city: str
    state: str
    zip: str


@dataclass(frozen=True)
class ShippingOption:
    """One service the customer may choose. `id`: the signed quote ("" when not available);
    `service`: "standard" | "express"; `label`: "Standard" | "Express"; `price`: what the customer
    pays, dollars (0.00 when free over the threshold); `list_price`: the carrier's price before the
    threshold; `earliest`/`latest`: the delivery window, dates (business days from today);
    `available`; `note`: a sentence for the customer ("" if nothing)."""

    id: str
    service: str
    label: str
    price: Decimal
    list_price: Decimal
    earliest: date
    latest: date
    available: bool
    note: str


@dataclass(frozen=True)
class ShippingOptions:
    """`options`: standard first; `degraded`: the carrier could not quote (standard from the rate
    card, express unavailable); `message`: a sentence for the customer ("" normally)."""

    options: tuple[ShippingOption, ...]
    degraded: bool
    message: str

    def option(self, service: str) -> ShippingOption | None:
        return next((option for option in self.options if option.service == service), None)


class ShippingUnavailable(ProviderUnavailable):
    """The carrier cannot confirm the chosen service now (an outage: express cannot be priced from
    the rate card): nothing was placed; standard is still offered. `retry_after`: seconds, the
    rates circuit's cool-down left, else RATES_RETRY_SECONDS."""

    code = "shipping_unavailable"


class ShippingChanged(Conflict):
    """The shipping option the customer chose no longer holds (its address, cart or price changed,
    or it expired): nothing was placed; the message says what changed."""

    code = "shipping_changed"

    def __init__(self, message: str) -> None:
        super().__init__(message, fields={"shipping": {"rate": message}})


def free_shipping_threshold() -> Decimal | None:
    """settings.FREE_SHIPPING_THRESHOLD as dollars; None when it is off. store/settings.py reads it
    as a Decimal (store.env.env_money refuses a bad value at startup); a text override is read alike."""
    value = settings.FREE_SHIPPING_THRESHOLD
    if value is None or isinstance(value, Decimal):
        return value
    value = str(value).strip()
    return Decimal(value).quantize(Decimal("0.01")) if value else None


def business_days_after(start: date, days: int) -> date:
    """The date `days` business days (Monday to Friday) after `start`."""
    day = start
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def address_digest(shipping: ShippingAddress) -> str:
    """A digest of the address as the carrier reads it: case, surrounding and repeated spaces aside."""
    return _digest("\n".join(" ".join(part.split()).casefold()
                             for part in (shipping.address, shipping.city, shipping.state, shipping.zip)))


def cart_digest(lines: Mapping[str, int]) -> str:
    """A digest of the cart's lines ({product public_id: quantity}), whatever their order."""
    return _digest(";".join(f"{pid}={quantity}" for pid, quantity in sorted(lines.items())))


def _destination(shipping: ShippingAddress) -> Destination:
    return Destination(address=shipping.address, city=shipping.city, state=shipping.state, zip_code=shipping.zip)


def parcel_of(products: Mapping[str, Product], lines: Mapping[str, int]) -> Parcel:
    """The parcel of the lines' products (those in `products`), weighing their packed weights' sum."""
    return Parcel(weight_grams=sum(products[pid].weight_grams * quantity
                                   for pid, quantity in lines.items() if pid in products))


def subtotal_of(products: Mapping[str, Product], lines: Mapping[str, int]) -> Decimal:
    return sum((products[pid].price * quantity for pid, quantity in lines.items() if pid in products), ZERO)


def _carrier_quotes(shipping: ShippingAddress, parcel: Parcel) -> tuple[RateQuote, ...] | None:
    """The carrier's quotes through the "rates" circuit; None when it could not quote."""
    if not breakers.allow(RATES):
        return None
    try:
        quotes = registry.provider("shipping").rates(destination=_destination(shipping), parcel=parcel,
                                                     timeout=settings.SHIPPING_RATES_TIMEOUT)
    except GatewayTimeout as exc:
        breakers.failed(RATES, str(exc))
        return None
    breakers.succeeded(RATES)
    return quotes


def _sign(*, service: str, price: Decimal, address: str, cart: str) -> str:
    return signing.dumps({"s": service, "p": str(price), "a": address, "c": cart,
                          "e": time.time() + settings.SHIPPING_QUOTE_MAX_AGE}, salt=QUOTE_SALT, compress=True)


def _options(*, quotes: tuple[RateQuote, ...], degraded: bool, subtotal: Decimal, address: str,
             cart: str) -> ShippingOptions:
    threshold = free_shipping_threshold()
    today = timezone.localdate()
    by_service = {quote.service: quote for quote in quotes}
    options = []
    for service, label in ShippingService.choices:
        quote = by_service.get(service)
        if quote is None and service == STANDARD:
            continue
        note, price = "", quote.price if quote else ZERO
        if quote is not None and service == STANDARD and threshold is not None:
            note = f"Free on orders of {money(threshold)} or more" if threshold > 0 else "Free shipping"
            if subtotal >= threshold:
                price = ZERO
        if quote is None or (degraded and service != STANDARD):
            # No price it cannot stand by; the rate card's window still says what the service takes.
            options.append(ShippingOption(
                id="", service=service, label=label, price=ZERO, list_price=ZERO,
                earliest=business_days_after(today, quote.days_min) if quote else today,
                latest=business_days_after(today, quote.days_max) if quote else today,
                available=False, note=UNAVAILABLE))
            continue
        options.append(ShippingOption(
            id=_sign(service=service, price=price, address=address, cart=cart), service=service, label=label,
            price=price, list_price=quote.price, earliest=business_days_after(today, quote.days_min),
            latest=business_days_after(today, quote.days_max), available=True, note=note))
    return ShippingOptions(options=tuple(options), degraded=degraded, message=DEGRADED_MESSAGE if degraded else "")


def _rates_retry_after() -> int:
    until = breakers.circuit(RATES, fresh=True).opened_until
    if isinstance(until, datetime):
        return max(1, math.ceil((until - timezone.now()).total_seconds()))
    return RATES_RETRY_SECONDS


def _too_heavy(price: Decimal) -> ValidationFailed:
    message = (f"Shipping this order would cost {money(price)}, more than one order can carry "
               f"({money(MAX_SHIPPING)}): split it into smaller orders.")
    return ValidationFailed(message, fields={"items": [message]})


def products_on_sale(product_ids: Iterable[str]) -> dict[str, Product]:
    """{public_id: Product} of `product_ids`, each sold today. ValidationFailed ("No longer sold:
    …", fields {"items": {id: …}}) naming any unknown or inactive one, as placement answers."""
    product_ids = list(product_ids)
    products = Product.objects.in_bulk(product_ids, field_name="public_id")
    unknown = [pid for pid in product_ids if pid not in products or not products[pid].is_active]
    if unknown:
        names = ", ".join(products[pid].name if pid in products else pid for pid in unknown)
        raise ValidationFailed(
            f"No longer sold: {names}.",
            fields={"items": {pid: "unknown or unavailable product" for pid in unknown}},
        )
    return products


def _no_zone() -> ValidationFailed:
    message = "We do not ship to this address."
    return ValidationFailed(message, fields={"shipping": {"zip": message}})


def options_for(*, shipping: ShippingAddress, lines: Mapping[str, int], products: Mapping[str, Product]
                ) -> ShippingOptions:
    """shipping_options for products already loaded ({public_id: Product}; lines of other ids
    weigh and cost nothing): one carrier call, or the rate card's when it cannot quote."""
    parcel = parcel_of(products, lines)
    quotes = _carrier_quotes(shipping, parcel)
    degraded = not quotes
    if degraded:
        quotes = rate_card_quotes(state=shipping.state, zip_code=shipping.zip, weight_grams=parcel.weight_grams)
        if not any(quote.service == STANDARD for quote in quotes):
            raise _no_zone()
    for quote in quotes:
        if quote.price > MAX_SHIPPING:
            raise _too_heavy(quote.price)
    return _options(quotes=quotes, degraded=degraded, subtotal=subtotal_of(products, lines),
                    address=address_digest(shipping), cart=cart_digest(lines))


def shipping_options(*, shipping: ShippingAddress, lines: Mapping[str, int]) -> ShippingOptions:
    """The shipping options for `lines` ({product public_id: quantity}) to `shipping`, standard
    first, each with its price (dollars), delivery window and signed id. The carrier quotes
    (ShippingProvider.rates); when it cannot, they are degraded (standard from the rate card,
    express unavailable, `message` says so). ValidationFailed when no zone ships to the address
    (fields {"shipping": …}), when a product is unknown or no longer sold (`products_on_sale`), or
    when the shipping would cost more than MAX_SHIPPING (fields {"items": …})."""
    products = products_on_sale(lines)
    return options_for(shipping=shipping, lines=lines, products=products)


@dataclass(frozen=True)
class ShippingPriced:
    """The shipping an order is placed with: `service`, `cost` (dollars, what is charged for it)
    and the delivery window `earliest`/`latest` (dates)."""

    service: str
    cost: Decimal
    earliest: date | None
    latest: date | None


@dataclass(frozen=True)
class Quote:
    """What a ShippingOption.id carries: the service, its price (dollars), the digests of the
    address and the cart it was quoted for, and when it expires (Unix seconds)."""

    service: str
    price: Decimal
    address: str
    cart: str
    expires: float

    def is_for(self, shipping: ShippingAddress, lines: Mapping[str, int]) -> bool:
        return self.address == address_digest(shipping) and self.cart == cart_digest(lines)


def quote_read(rate: str) -> Quote | None:
    """The quote `rate` carries, expired or not, without asking anyone whether it still holds;
    None when this shop did not sign it."""
    try:
        payload = signing.loads(rate, salt=QUOTE_SALT)
        return Quote(service=payload["s"], price=Decimal(payload["p"]), address=payload["a"], cart=payload["c"],
                     expires=float(payload["e"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError, InvalidOperation):
        return None


def quote_service(rate: str) -> str:
    """The service a signed quote names, without checking it ("" when it names none): what an
    idempotent replay compares."""
    quote = quote_read(rate)
    return quote.service if quote else ""


def shipping_standard(*, shipping: ShippingAddress, lines: Mapping[str, int], products: Mapping[str, Product]
                      ) -> ShippingPriced:
    """Standard shipping at the rate card's current price (free over the threshold), for an order
    placed without a chosen option: no carrier call. ValidationFailed when no zone ships there, or
    when it would cost more than MAX_SHIPPING."""
    parcel = parcel_of(products, lines)
    quote = next((quote for quote in rate_card_quotes(state=shipping.state, zip_code=shipping.zip,
                                                      weight_grams=parcel.weight_grams)
                  if quote.service == STANDARD), None)
    if quote is None:
        raise _no_zone()
    if quote.price > MAX_SHIPPING:
        raise _too_heavy(quote.price)
    threshold = free_shipping_threshold()
    free = threshold is not None and subtotal_of(products, lines) >= threshold
    today = timezone.localdate()
    return ShippingPriced(service=STANDARD, cost=ZERO if free else quote.price,
                          earliest=business_days_after(today, quote.days_min),
                          latest=business_days_after(today, quote.days_max))


def shipping_confirmed(*, rate: str, shipping: ShippingAddress, lines: Mapping[str, int],
                       products: Mapping[str, Product]) -> ShippingPriced:
    """The chosen option `rate` (a ShippingOption.id) if it still holds for this address and cart:
    the signature, expiry, address and cart digests are checked, then the carrier is asked again
    and its price must be the quoted one (when it cannot quote, standard is priced from the rate
    card and express cannot be confirmed: ShippingUnavailable, 503). ShippingChanged saying what
    changed otherwise."""
    quote = quote_read(rate)
    if quote is None:
        raise ShippingChanged("The shipping option sent is not one this shop quoted; choose a shipping option "
                              "again.")
    service, quoted = quote.service, quote.price
    if time.time() >= quote.expires:
        raise ShippingChanged("The shipping quote expired; choose a shipping option again to see today's price.")
    if quote.address != address_digest(shipping):
        raise ShippingChanged("The shipping address changed since the shipping options were quoted; choose a "
                              "shipping option for the new address.")
    if quote.cart != cart_digest(lines):
        raise ShippingChanged("Your cart changed since the shipping options were quoted; choose a shipping "
                              "option again.")
    options = options_for(shipping=shipping, lines=lines, products=products)
    option = options.option(service)
    label = dict(ShippingService.choices).get(service, service)
    if options.degraded and option is not None and not option.available:
        raise ShippingUnavailable(f"{label} shipping is unavailable for now: the carrier cannot confirm it. Choose "
                                  f"standard shipping, or try again shortly.", retry_after=_rates_retry_after())
    if option is None or not option.available:
        raise ShippingChanged(f"{label} shipping is unavailable for now: the carrier cannot confirm it. Choose "
                              f"another shipping option.")
    if option.price != quoted:
        raise ShippingChanged(f"{label} shipping now costs {money(option.price)} (was {money(quoted)}).")
    return ShippingPriced(service=service, cost=option.price, earliest=option.earliest, latest=option.latest)
