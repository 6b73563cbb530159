"""The providers' webhooks, as both sides agree on them: the events they send and their signature.

The payment provider's:

A charge the provider answered "pending" (GatewayResult.pending) is confirmed later by an
event POSTed to the store (`POST /api/payments/webhook`), a JSON body such as

    {"id": "evt_…", "type": "payment.approved" | "payment.declined", "created": <unix seconds>,
     "data": {"order_id": 42, "key": "<the charge's idempotency key>", "reference": "txn_…",
              "reason": "<why, for a decline>", "code": "<its decline code (providers.declines)>"}}

The carrier's: after the label it tells how the parcel goes (`POST /api/shipping/webhook`),
one event per tracking update (providers.base.TrackingUpdate):

    {"id": "trk_…", "type": "tracking.updated", "created": <unix seconds>,
     "data": {"order_id": 42, "tracking_number": "1Z…", "status": "in_transit" | "out_for_delivery" |
              "delivered" | "exception" | "returned_to_sender", "occurred_at": <unix seconds>,
              "description": "<the carrier's words>", "location": "<where, or empty>"}}

Each is signed in the header `Store-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}." + body)>`
with the provider's own secret (`settings.PAYMENT_WEBHOOK_SECRET`, `settings.CARRIER_WEBHOOK_SECRET`).
The header may carry several `v1=` signatures (a provider signs with the old and the new
secret while one is rotated); one matching is enough.
"""
import hashlib
import hmac
import json
import time
import unicodedata
from dataclasses import asdict, dataclass

from django.conf import settings

from providers.declines import Decline, decline_for

SIGNATURE_HEADER = "Store-Signature"
APPROVED = "payment.approved"
DECLINED = "payment.declined"
EVENT_TYPES = (APPROVED, DECLINED)
TRACKING_UPDATED = "tracking.updated"


class SignatureRefused(Exception):
    """The signature does not vouch for the body. `code`: missing_signature, bad_signature or
    stale_signature; the message says why (never the secret nor the expected signature)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class EventMalformed(ValueError):
    """The (authentic) body is not an event of the documented shape."""


@dataclass(frozen=True)
class PaymentEvent:
    """One event: `id` unique per event (redeliveries repeat it), `type` one of EVENT_TYPES,
    `created` in unix seconds, the order's id, the charge's idempotency `key`, the provider's
    `reference` of the charge and, for a decline, the `reason` and its decline `code` ("" when the
    provider gives none)."""

    id: str
    type: str
    created: int
    order_id: int
    key: str = ""
    reference: str = ""
    reason: str = ""
    code: str = ""

    @property
    def decline(self) -> Decline | None:
        """For a decline: what its code means (providers.declines; no code is `generic_decline`);
        None for another event."""
        return decline_for(self.code) if self.type == DECLINED else None

    def body(self) -> bytes:
        """The event as the provider POSTs it (UTF-8 JSON)."""
        fields = asdict(self)
        data = {name: fields[name] for name in ("order_id", "key", "reference", "reason", "code")}
        return json.dumps({"id": self.id, "type": self.type, "created": self.created, "data": data}).encode()


def _digest(secret: str, timestamp: int | str, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


_HEX = frozenset("0123456789abcdef")


def _hex_digest(value: str) -> bool:
    """Whether `value` could be a SHA-256 hex digest: 64 ASCII lowercase hex digits."""
    return len(value) == 64 and set(value) <= _HEX


def signature_header(body: bytes, *, timestamp: int | None = None, secret: str | None = None) -> str:
    """The `Store-Signature` value for `body` signed at `timestamp` (unix seconds, default now) with
    `secret` (default the payment provider's)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={_digest(secret or settings.PAYMENT_WEBHOOK_SECRET, timestamp, body)}"


def signature_verify(body: bytes, header: str | None, *, now: float | None = None,
                     tolerance: int | None = None, secret: str | None = None) -> int:
    """Check that `header` signs `body` with `secret` (default the payment provider's), within
    `tolerance` seconds of `now`
    (default settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS, either way); return its timestamp.

    Raises SignatureRefused when the header is missing or malformed, the timestamp is too old or
    too far in the future (a replayed or forged request), or no `v1` signature matches."""
    if not header or not header.strip():
        raise SignatureRefused(f"The {SIGNATURE_HEADER} header is missing.", code="missing_signature")
    timestamp, signatures = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamp = value
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None or not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12 or not signatures:
        raise SignatureRefused(f"The {SIGNATURE_HEADER} header is not t=<unix seconds>,v1=<hex HMAC-SHA256>.",
                               code="bad_signature")
    tolerance = settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS if tolerance is None else tolerance
    age = (time.time() if now is None else now) - int(timestamp)
    if age > tolerance:
        raise SignatureRefused(f"The signature's timestamp is {int(age)} s old (at most {tolerance} s).",
                               code="stale_signature")
    if age < -tolerance:
        raise SignatureRefused(f"The signature's timestamp is {int(-age)} s in the future (at most {tolerance} s).",
                               code="stale_signature")
    expected = _digest(secret or settings.PAYMENT_WEBHOOK_SECRET, timestamp, body)
    # compare_digest raises on non-ASCII text: only a well-formed candidate is compared.
    if not any(_hex_digest(signature) and hmac.compare_digest(expected, signature) for signature in signatures):
        raise SignatureRefused("The signature does not match the body.", code="bad_signature")
    return int(timestamp)


def _envelope(body: bytes) -> tuple[dict, dict]:
    """The event's top level and its `data`, checked for id, type, created and data.order_id."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise EventMalformed("The body is not JSON.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        raise EventMalformed('The body is not an event {"id", "type", "created", "data": {...}}.')
    data = payload["data"]
    event_id, event_type, created, order_id = payload.get("id"), payload.get("type"), payload.get("created"), data.get("order_id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 64 or not _printable(event_id):
        raise EventMalformed("The event's id is missing or not a string of at most 64 printable characters.")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 40 or not _printable(event_type):
        raise EventMalformed("The event's type is missing or not a string of at most 40 printable characters.")
    if not _unix_seconds(created):
        raise EventMalformed("The event's created time is not unix seconds.")
    if isinstance(order_id, bool) or not isinstance(order_id, int) or not 0 < order_id < 2**63:
        raise EventMalformed("data.order_id is not an order id.")
    return payload, data


# Year 3000: far past any real event, well inside what datetime (and the database) can hold.
_LATEST_UNIX_SECONDS = 32503680000


def _unix_seconds(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and 0 <= value < _LATEST_UNIX_SECONDS


def _printable(value: str) -> bool:
    """No control character (NUL, which PostgreSQL refuses to store, newlines…) nor lone surrogate
    (not encodable): what an id or a provider's words never hold."""
    return not any(unicodedata.category(char) in ("Cc", "Cs") for char in value)


def _texts(data: dict, limits: tuple[tuple[str, int], ...]) -> dict[str, str]:
    text = {}
    for name, limit in limits:
        value = data.get(name, "")
        if not isinstance(value, str) or len(value) > limit or not _printable(value):
            raise EventMalformed(f"data.{name} is not a string of at most {limit} printable characters.")
        text[name] = value
    return text


def payment_event_parse(body: bytes) -> PaymentEvent:
    """The event in a webhook's body; EventMalformed (saying what is wrong) when it is not JSON
    of the documented shape. An unknown `type` is not malformed: the caller decides."""
    payload, data = _envelope(body)
    text = _texts(data, (("key", 128), ("reference", 64), ("reason", 200), ("code", 40)))
    if payload["type"] == APPROVED and not text["reference"]:
        raise EventMalformed("An approval needs data.reference (the charge).")
    return PaymentEvent(id=payload["id"], type=payload["type"], created=payload["created"],
                        order_id=data["order_id"], **text)


@dataclass(frozen=True)
class CarrierEvent:
    """One tracking event of the carrier's webhook: `id` the tracking update's (redeliveries and
    the carrier's `tracking` answer repeat it), `type` TRACKING_UPDATED, `created` unix seconds,
    the order and its `tracking_number`, and the update (`status`, `occurred_at` in unix seconds,
    `description`, `location`)."""

    id: str
    type: str
    created: int
    order_id: int
    tracking_number: str
    status: str
    occurred_at: int
    description: str = ""
    location: str = ""

    def body(self) -> bytes:
        """The event as the carrier POSTs it (UTF-8 JSON)."""
        fields = asdict(self)
        data = {name: fields[name] for name in ("order_id", "tracking_number", "status", "occurred_at",
                                                "description", "location")}
        return json.dumps({"id": self.id, "type": self.type, "created": self.created, "data": data}).encode()


def carrier_event_parse(body: bytes) -> CarrierEvent:
    """The carrier's event in a webhook's body; EventMalformed (saying what is wrong) when it is
    not JSON of the documented shape. An unknown `status` is not malformed, nor is an unknown
    `type` (its data is not read: the event comes back with the tracking fields empty); the
    caller decides."""
    payload, data = _envelope(body)
    if payload["type"] != TRACKING_UPDATED:
        return CarrierEvent(id=payload["id"], type=payload["type"], created=payload["created"],
                            order_id=data["order_id"], tracking_number="", status="", occurred_at=0)
    text = _texts(data, (("tracking_number", 64), ("status", 40), ("description", 200), ("location", 100)))
    if not text["tracking_number"] or not text["status"]:
        raise EventMalformed("data.tracking_number and data.status are required.")
    if not _unix_seconds(data.get("occurred_at")):
        raise EventMalformed("data.occurred_at is not unix seconds.")
    return CarrierEvent(id=payload["id"], type=payload["type"], created=payload["created"], order_id=data["order_id"],
                        occurred_at=data["occurred_at"], **text)
