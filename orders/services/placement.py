"""Placing an order: price every line from the catalog and its shipping (orders.shipping), reserve
stock, start the pipeline."""
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from orders.models import Order, OrderEvent, OrderLine
from orders.services.idempotency import replay_of, request_fingerprint
from orders.services.reorder import order_retry_refuse_twice
from orders.services.transitions import order_ready_on_commit
from orders.shipping import (
    STANDARD,
    ShippingAddress,
    products_on_sale,
    quote_service,
    shipping_confirmed,
    shipping_standard,
)
from orders.signals import order_event
from orders.states import Actor
from orders.stock import stock_reserve
from orders.validators import luhn_valid, normalize_card_number
from providers.registry import payment_provider
from store.errors import Conflict, ValidationFailed
from store.money import money
from store.request_context import request_id_var

# Order.total is a DecimalField(max_digits=12, decimal_places=2).
MAX_TOTAL = Decimal("9999999999.99")


class PriceChanged(Conflict):
    """Prices changed since the customer saw them: nothing was placed (the message names each change)."""

    code = "price_changed"


def _prices_confirm(products: dict, merged: dict[str, int], total: Decimal, *,
                    expected_prices: dict[str, Decimal] | None, expected_total: Decimal | None,
                    shipping_cost: Decimal | None = None) -> None:
    changes = {}
    for pid, seen in (expected_prices or {}).items():
        if pid in merged and products[pid].price != seen:
            changes[pid] = f"{products[pid].name} now costs {money(products[pid].price)} (was {money(seen)})."
    if expected_prices is not None:
        # A line the customer's page did not show (added in another tab, or back in stock) is
        # not confirmed either.
        for pid in merged.keys() - expected_prices.keys():
            changes[pid] = f"{products[pid].name} ({money(products[pid].price)}) was not in the order you confirmed."
    if expected_total is not None and total != expected_total:
        # The split shows why to a client that sent the items' sum as its expected total.
        split = (f"items {money(total - shipping_cost)} + shipping {money(shipping_cost)}; "
                 if shipping_cost else "")
        changes["total"] = f"The total is now {money(total)} ({split}was {money(expected_total)})."
    if changes:
        raise PriceChanged(" ".join(changes.values()), fields={"items": changes})


@dataclass(frozen=True)
class LineRequest:
    product_id: str
    quantity: int


@dataclass(frozen=True)
class PlacementResult:
    order: Order
    created: bool


def _merged_lines(lines: Sequence[LineRequest]) -> dict[str, int]:
    if not lines:
        raise ValidationFailed("An order needs at least one item.", fields={"items": "At least one item is required."})
    if len(lines) > settings.STORE_MAX_ORDER_LINES:
        raise ValidationFailed(
            f"An order can have at most {settings.STORE_MAX_ORDER_LINES} lines.",
            fields={"items": f"At most {settings.STORE_MAX_ORDER_LINES} lines."},
        )
    merged: dict[str, int] = {}
    for line in lines:
        if not isinstance(line.quantity, int) or not 1 <= line.quantity <= settings.STORE_MAX_LINE_QUANTITY:
            raise ValidationFailed(
                f"Quantity of {line.product_id} must be a whole number from 1 to {settings.STORE_MAX_LINE_QUANTITY}.",
                fields={"items": {line.product_id: "quantity out of range"}},
            )
        merged[line.product_id] = merged.get(line.product_id, 0) + line.quantity
    for product_id, quantity in merged.items():
        if quantity > settings.STORE_MAX_LINE_QUANTITY:
            raise ValidationFailed(
                f"At most {settings.STORE_MAX_LINE_QUANTITY} of {product_id} per order.",
                fields={"items": {product_id: "quantity out of range"}},
            )
    return merged


def _fingerprint(merged: dict[str, int], shipping: ShippingAddress, card_last4: str, service: str) -> str:
    request = {"items": sorted(merged.items()), "shipping": asdict(shipping), "card": card_last4}
    # Standard (chosen, or by default) is what every request meant before services had a price.
    return request_fingerprint(request if service == STANDARD else {**request, "service": service})


def _replayed(*, user, idempotency_key: str, fingerprint: str) -> Order | None:
    first = Order.objects.filter(owner=user, idempotency_key=idempotency_key).first()
    return replay_of(first, fingerprint, what="request")


def order_place(
    *,
    user,
    lines: Sequence[LineRequest],
    shipping: ShippingAddress,
    card_number: str | None = None,
    idempotency_key: str = "",
    expected_prices: dict[str, Decimal] | None = None,
    expected_total: Decimal | None = None,
    retry_of: Order | None = None,
    shipping_rate: str | None = None,
) -> PlacementResult:
    """Create an order in `new` with its stock reserved, and start the pipeline on commit.

    Prices and names come from the catalog, never from the client. A replayed
    `idempotency_key` returns the first order (created=False); the same key with a
    different request raises Unprocessable (422). Not enough stock raises
    InsufficientStock (409) and reserves nothing; a total over MAX_TOTAL (what Order.total
    holds) raises ValidationFailed (400) and writes nothing.

    Shipping: `shipping_rate` is the id of the option the customer chose (orders.shipping), checked
    and priced by the carrier again (`shipping_confirmed`: ShippingChanged, 409, nothing placed,
    when it no longer holds; ShippingUnavailable, 503, when the carrier cannot confirm express); None ships standard at the rate card's current price, free over
    FREE_SHIPPING_THRESHOLD, with no carrier call. The order keeps the subtotal (the items), the
    service, its cost and delivery window, and total = subtotal + shipping cost (what is charged).

    What the customer saw is confirmed before anything is written: `expected_prices`
    ({product id: unit price}, the checkout page's) and `expected_total` (the API's
    expectedTotal). A difference, or a line missing from `expected_prices`, raises
    PriceChanged (409) naming each change (`expected_total` counts the shipping); a product no longer sold raises ValidationFailed
    naming it. `retry_of`: the customer's own failed or cancelled order this one replaces
    (orders.services.reorder); the new order links back to it, and AlreadyRetried (409) is raised,
    nothing written, when another order already replaced it (two windows, two devices).
    """

    merged = _merged_lines(lines)
    card = normalize_card_number(card_number or "")
    if card and not luhn_valid(card):
        raise ValidationFailed("The card number is not valid.", fields={"payment": {"card": "Invalid card number."}})
    service = quote_service(shipping_rate) if shipping_rate is not None else STANDARD
    fingerprint = _fingerprint(merged, shipping, card[-4:], service)
    if idempotency_key:
        replay = _replayed(user=user, idempotency_key=idempotency_key, fingerprint=fingerprint)
        if replay is not None:
            return PlacementResult(replay, created=False)

    products = products_on_sale(merged)

    subtotal = sum((products[pid].price * quantity for pid, quantity in merged.items()), Decimal("0.00"))
    _prices_confirm(products, merged, subtotal, expected_prices=expected_prices, expected_total=None)
    if shipping_rate is None:
        shipped = shipping_standard(shipping=shipping, lines=merged, products=products)
    else:
        shipped = shipping_confirmed(rate=shipping_rate, shipping=shipping, lines=merged, products=products)
    total = subtotal + shipped.cost
    _prices_confirm(products, merged, total, expected_prices=None, expected_total=expected_total,
                    shipping_cost=shipped.cost)
    if total > MAX_TOTAL:
        message = f"An order can total at most {money(MAX_TOTAL)}; this one would be {money(total)}."
        raise ValidationFailed(message, fields={"items": [message]})

    # The provider tokenises the card; we keep its token and the last 4 digits only.
    payments = payment_provider()
    token = payments.tokenize(card) if card else None

    try:
        with transaction.atomic():
            if retry_of is not None:
                # Locked, so two checkouts retrying the same order cannot both place it.
                retry_of = Order.objects.select_for_update(of=("self",)).filter(pk=retry_of.pk, owner=user).first()
                if retry_of is not None:
                    order_retry_refuse_twice(retry_of)
            order = Order.objects.create(
                owner=user,
                ship_address=shipping.address,
                ship_city=shipping.city,
                ship_state=shipping.state,
                ship_zip=shipping.zip,
                subtotal=subtotal,
                shipping_service=shipped.service,
                shipping_cost=shipped.cost,
                delivery_earliest=shipped.earliest,
                delivery_latest=shipped.latest,
                total=total,
                payment_provider=payments.name if token else "",
                payment_token=token.token if token else "",
                card_last4=token.last4 if token else "",
                idempotency_key=idempotency_key,
                request_fingerprint=fingerprint,
                retry_of=retry_of,
            )
            # Reserve in a stable order so concurrent checkouts never deadlock (none kept if one fails).
            for product in sorted((products[pid] for pid in merged), key=lambda p: p.pk):
                stock_reserve(product=product, quantity=merged[product.public_id], order_ref=order.pk, user=user)
            OrderLine.objects.bulk_create(
                OrderLine(
                    order=order,
                    product=products[pid],
                    product_public_id=pid,
                    name=products[pid].name,
                    unit_price=products[pid].price,
                    quantity=quantity,
                )
                for pid, quantity in merged.items()
            )
            event = OrderEvent.objects.create(
                order=order,
                event_type="order.created",
                target_state=order.state,
                actor_kind=Actor.CUSTOMER,
                actor=user,
                detail={"total": str(total), "items": sum(merged.values()), "shipping": str(shipped.cost),
                        "shipping_service": shipped.service},
                request_id=request_id_var.get() or "",
            )
            order_event.send(sender=Order, order=order, event=event)
            order_ready_on_commit(order.pk)
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key won the race.
        if idempotency_key:
            replay = _replayed(user=user, idempotency_key=idempotency_key, fingerprint=fingerprint)
            if replay is not None:
                return PlacementResult(replay, created=False)
        raise
    return PlacementResult(order, created=True)
