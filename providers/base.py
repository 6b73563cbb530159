"""What the store needs from each provider, as typed interfaces (PEP 544 protocols).

The pipeline, the order services and the notifications call providers only through these;
`settings.PROVIDERS` and `settings.PAYMENT_PROVIDERS` choose the implementations
(providers.registry), today the simulators in providers/simulated.py.

Every call that moves goods or money takes an idempotency `key`: a repeated call with the
same key answers as the first did instead of charging, shipping or refunding again. Calls
take a per-attempt `timeout` in seconds and raise GatewayTimeout when the provider did not
answer in time (transient: the step runner retries); a business refusal (out of stock,
declined, undeliverable) is an answer, `GatewayResult(ok=False, reason=…)`; a card decline also
carries its code and whether asking again can change it (providers.declines).
"""
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable

from providers.rates import RateQuote


class GatewayTimeout(Exception):
    """The provider did not answer within the per-attempt timeout: transient, retryable."""


@dataclass(frozen=True)
class GatewayResult:
    """A provider's answer.

    - `ok`: approved / done; else refused for `reason` (a sentence the customer may read; for a
      card decline the customer reads the advice of its `code` instead, providers.declines).
    - `pending`: neither approval nor decline: the provider confirms later through its webhook
      (3-D Secure, a bank transfer); `ok` is False and `reference` names the charge to come.
    - `reference`: the provider's id of what it did (charge, refund, tracking number).
    - `data`: what else the call answers (card last 4, carrier, estimated delivery…).
    - `latency_ms`: how long the provider took, in milliseconds (simulated).
    - `code`: for a refusal, the provider's code of it (a card decline code: providers.declines),
      for staff; "" when it gives none.
    - `retryable`: for a refusal, whether asking again may change the answer (a soft decline);
      False for one that cannot (a hard decline: the pipeline does not ask again).
    """

    ok: bool
    reason: str = ""
    reference: str = ""
    data: dict = field(default_factory=dict)
    latency_ms: int = 0
    pending: bool = False
    code: str = ""
    retryable: bool = True


# What a charge lookup (PaymentProvider.charge_status) finds.
CHARGE_APPROVED = "approved"  # the bank approved it: the customer's money is held or taken
CHARGE_DECLINED = "declined"  # the bank refused it: nothing was charged
CHARGE_PENDING = "pending"  # the bank has not answered yet
CHARGE_UNKNOWN = "unknown"  # the provider has no such charge (never issued, or not under this key)


@dataclass(frozen=True)
class ChargeStatus:
    """A provider's answer to "what became of this charge?".

    - `status`: CHARGE_APPROVED, CHARGE_DECLINED, CHARGE_PENDING or CHARGE_UNKNOWN.
    - `reference`: the provider's id of the charge (for an approval: the transaction to refund).
    - `reason`: why, for a decline, in the provider's words (the store shows staff only; the
      customer reads the advice of `code`, providers.declines).
    - `code`, `retryable`: for a decline, its code and whether asking again may change it, as in
      GatewayResult.
    - `amount`: what was charged, USD ("" when the provider does not say).
    - `refunded`: the charge has been refunded (voided) at the provider since.
    - `order_id`: the order the charge was made for, as the provider recorded it with the
      charge (the `order_id` the store charged with; a real provider's charge metadata); None
      when the provider has no such charge or does not say.
    - `latency_ms`: how long the provider took, in milliseconds (simulated).
    """

    status: str
    reference: str = ""
    reason: str = ""
    amount: str = ""
    refunded: bool = False
    order_id: int | None = None
    latency_ms: int = 0
    code: str = ""
    retryable: bool = True


@dataclass(frozen=True)
class Token:
    token: str
    last4: str



@runtime_checkable
class InventoryProvider(Protocol):
    """The warehouse confirms it holds an order's items."""

    def check(self, *, key: str, order_id: int, items: list[tuple[str, int]],
              timeout: float | None = None) -> GatewayResult:
        """`items`: (product id, quantity) pairs. ok, or not with the reason (a product out of stock)."""


@runtime_checkable
class PaymentProvider(Protocol):
    """Cards: tokenized at checkout, charged by the pipeline, refunded by staff or the pipeline.

    `name` is what an order records (Order.payment_provider): its refunds go back to it.
    """

    name: str

    def tokenize(self, card_number: str) -> Token:
        """The provider's token for a card (only the token and the last 4 digits are kept)."""

    def charge(self, *, key: str, order_id: int, token: str, amount: Decimal,
               timeout: float | None = None) -> GatewayResult:
        """Charge `amount` (USD) to the tokenized card; ok with the charge's reference, declined, or
        pending (the provider's webhook says later whether it was approved)."""

    def refund(self, *, key: str, order_id: int, transaction_id: str, amount: Decimal,
               timeout: float | None = None) -> GatewayResult:
        """Pay `amount` (USD) of charge `transaction_id` back; ok with the refund's reference."""

    def charge_status(self, *, key: str, reference: str = "", timeout: float | None = None) -> ChargeStatus:
        """Look up the charge made with idempotency `key` (and, when known, the provider's
        `reference` of it): what the bank answered, as the provider knows it now, and the order
        the charge was made for (`ChargeStatus.order_id`). Reads only;
        raises GatewayTimeout like the other calls. (A real provider looks the charge up by its
        id, as Stripe's `PaymentIntent.retrieve` does.)"""


# What a carrier says of a parcel (TrackingUpdate.status), in the order a parcel usually goes.
IN_TRANSIT = "in_transit"  # on its way between the carrier's facilities
OUT_FOR_DELIVERY = "out_for_delivery"  # on the van, arriving today
DELIVERED = "delivered"  # handed over at the address
EXCEPTION = "exception"  # the carrier is stuck (address not found, nobody home…): someone must act
RETURNED_TO_SENDER = "returned_to_sender"  # back at the shop: the customer will not get it
TRACKING_STATUSES = (IN_TRANSIT, OUT_FOR_DELIVERY, DELIVERED, EXCEPTION, RETURNED_TO_SENDER)


@dataclass(frozen=True)
class TrackingUpdate:
    """One tracking event of a parcel: `id` the carrier's (unique; the webhook and a lookup name an
    event alike), `status` one of TRACKING_STATUSES, `occurred_at` unix seconds, the carrier's
    `description` (a sentence the customer may read) and `location` ("" when it gives none)."""

    id: str
    status: str
    occurred_at: int
    description: str = ""
    location: str = ""


@dataclass(frozen=True)
class ParcelTracking:
    """A carrier's answer to "where is this parcel?": `found` False when it has no such tracking
    number; `updates` the events that have happened so far, oldest first; `latency_ms` simulated."""

    found: bool
    updates: tuple[TrackingUpdate, ...] = ()
    latency_ms: int = 0


@dataclass(frozen=True)
class Destination:
    """Where a parcel goes: street `address`, `city`, `state` (two letters) and `zip_code`."""

    address: str
    city: str
    state: str
    zip_code: str


@dataclass(frozen=True)
class Parcel:
    """What the carrier carries: the packed weight of everything in it, in grams."""

    weight_grams: int


@runtime_checkable
class ShippingProvider(Protocol):
    """The carrier quotes its services' prices to an address (`rates`, at checkout), says whether it
    can deliver there (`check_address`, before the order is charged), then makes a label:
    `reference` is the tracking number, `data` has carrier and estimated_delivery (ISO date). It
    then tells the store how the parcel goes through its webhook (`POST /api/shipping/webhook`),
    and answers `tracking` when asked."""

    def rates(self, *, destination: Destination, parcel: Parcel, timeout: float | None = None) -> tuple[RateQuote, ...]:
        """Each service's price (dollars) and delivery window (business days) for `parcel` to
        `destination`, standard first; () when the carrier has no rate for the address. Reads
        only and judges no deliverability (`check_address` does); raises GatewayTimeout like the
        other calls. (A real carrier's rating call: UPS Rating API "Shop", EasyPost rates.)"""

    def check_address(self, *, key: str, order_id: int, address: str, city: str, state: str, zip_code: str,
                      timeout: float | None = None) -> GatewayResult:
        """Whether the carrier can deliver to this address, asked before any money moves: ok, or
        not with the reason (an undeliverable address, a sentence the customer may read). Reads
        only; the same `key` answers as it first did. (A real carrier's address validation:
        UPS Address Validation, EasyPost Address Verification.)"""

    def create_label(self, *, key: str, order_id: int, zip_code: str,
                     timeout: float | None = None) -> GatewayResult: ...

    def tracking(self, *, tracking_number: str, timeout: float | None = None) -> ParcelTracking:
        """The parcel's tracking events so far (reads only); raises GatewayTimeout like the
        other calls. (A real carrier's "track" call: UPS Track API, EasyPost Tracker.)"""


@runtime_checkable
class NotificationProvider(Protocol):
    """Sends one e-mail; raises on failure (the sender retries later)."""

    def send(self, *, key: str, to: str, subject: str, body: str) -> GatewayResult: ...
