"""The simulated providers: warehouse, payment, shipping and notification gateways.

They are the only simulation in the store. Outcomes follow the configured rates
(settings.SIMULATOR) and the deterministic triggers (README: Demo staff account, test cards); latencies are real
sleeps scaled by LATENCY_SCALE (0 in tests and benchmarks). With SIM_SEED set, each call's
outcome is a pure function of the seed and the call's idempotency key, so runs repeat.

Payment, shipping and inventory calls carry an idempotency key. The provider remembers the
first final answer per key (`GatewayCall`), so a repeated call returns it instead of
charging, shipping or refunding again. Transient errors (timeouts) are not final.
"""
import functools
import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from providers import metrics
from providers.models import CardToken, GatewayCall

# Test cards (the README lists them): behaviour by full number. Only the token and last 4 are kept.
TEST_CARDS = {
    "4242424242424242": "approve",
    "4000000000000002": "decline",
    "4000000000000119": "timeout_once",
}
UNDELIVERABLE_ZIP = "00000"
CARRIERS = ("UPS", "FedEx", "USPS", "DHL")


class GatewayTimeout(Exception):
    """The provider did not answer within the per-attempt timeout: transient, retryable."""


@dataclass(frozen=True)
class GatewayResult:
    ok: bool
    reason: str = ""
    reference: str = ""
    data: dict = field(default_factory=dict)
    latency_ms: int = 0


@dataclass(frozen=True)
class Token:
    token: str
    last4: str


def _conf(name: str):
    return settings.SIMULATOR[name]


def _rng(key: str) -> random.Random:
    seed = _conf("SEED")
    return random.Random(f"{seed}:{key}") if seed is not None else random.Random()


def _latency(rng: random.Random, bounds_ms: tuple[int, int], timeout: float | None) -> int:
    """Sleep for the simulated latency; raise GatewayTimeout when it exceeds `timeout`."""
    latency_ms = rng.randint(*bounds_ms)
    seconds = latency_ms / 1000 * _conf("LATENCY_SCALE")
    if timeout is not None and seconds > timeout:
        time.sleep(timeout)
        raise GatewayTimeout(f"no answer within {timeout:.1f}s")
    if seconds > 0:
        time.sleep(seconds)
    return latency_ms


def _remembered(gateway: str, operation: str, key: str) -> GatewayResult | None:
    call = GatewayCall.objects.filter(gateway=gateway, operation=operation, idempotency_key=key, final=True).first()
    if call is None:
        return None
    return GatewayResult(ok=call.outcome == "ok", reason=call.result.get("reason", ""),
                         reference=call.result.get("reference", ""), data=call.result.get("data", {}), latency_ms=0)


def _record(gateway: str, operation: str, key: str, order_id: int | None, result: GatewayResult, *, final: bool = True,
            outcome: str | None = None) -> GatewayResult:
    """Store the provider's answer; if another call with the same key got there first, return its answer."""
    try:
        with transaction.atomic():
            GatewayCall.objects.create(
                gateway=gateway, operation=operation, idempotency_key=key, order_id=order_id,
                outcome=outcome or ("ok" if result.ok else "failed"), final=final, latency_ms=result.latency_ms,
                result={"reason": result.reason, "reference": result.reference, "data": result.data},
            )
    except IntegrityError:
        return _remembered(gateway, operation, key) or result
    return result


def _counted(gateway: str):
    """Count each call of the decorated provider method in store_gateway_calls_total by its answer."""

    def decorate(method):
        @functools.wraps(method)
        def call(*args, **kwargs) -> GatewayResult:
            try:
                result = method(*args, **kwargs)
            except GatewayTimeout:
                metrics.gateway_called(gateway, "timeout")
                raise
            except Exception:
                metrics.gateway_called(gateway, "error")
                raise
            metrics.gateway_called(gateway, "ok" if result.ok else "failed")
            return result

        return call

    return decorate


class InventoryGateway:
    """The warehouse confirms it holds the order's items."""

    @_counted("inventory")
    def check(self, *, key: str, order_id: int, items: list[tuple[str, int]], timeout: float | None = None) -> GatewayResult:
        if (known := _remembered("inventory", "check", key)) is not None:
            return known
        rng = _rng(key)
        latency = _latency(rng, _conf("INVENTORY_LATENCY_MS"), timeout)
        if rng.random() < _conf("INVENTORY_AVAILABLE_RATE"):
            result = GatewayResult(ok=True, reference=f"wh-{order_id}", latency_ms=latency)
        else:
            missing = rng.choice(items)[0] if items else "an item"
            result = GatewayResult(ok=False, reason=f"Out of stock at the warehouse: {missing}", latency_ms=latency)
        return _record("inventory", "check", key, order_id, result)


class PaymentGateway:
    """Card payments: tokenize at checkout, charge and refund by idempotency key."""

    def tokenize(self, card_number: str) -> Token:
        token = CardToken.objects.create(
            token=f"tok_{secrets.token_hex(12)}", last4=card_number[-4:], behaviour=TEST_CARDS.get(card_number, "")
        )
        return Token(token=token.token, last4=token.last4)

    @_counted("payment")
    def charge(self, *, key: str, order_id: int, token: str, amount: Decimal, timeout: float | None = None) -> GatewayResult:
        if (known := _remembered("payment", "charge", key)) is not None:
            return known
        card = CardToken.objects.filter(token=token).first() if token else None
        behaviour = card.behaviour if card else ""
        rng = _rng(key + f":{GatewayCall.objects.filter(idempotency_key=key, gateway='payment').count()}")
        if behaviour == "timeout_once" and not GatewayCall.objects.filter(
            gateway="payment", operation="charge", idempotency_key=key
        ).exists():
            _record("payment", "charge", key, order_id, GatewayResult(ok=False, reason="timeout"), final=False,
                    outcome="timeout")
            raise GatewayTimeout("the payment provider did not answer (test card 0119)")
        try:
            latency = _latency(rng, _conf("PAYMENT_LATENCY_MS"), timeout)
        except GatewayTimeout:
            _record("payment", "charge", key, order_id, GatewayResult(ok=False, reason="timeout"), final=False,
                    outcome="timeout")
            raise
        if behaviour in ("approve", "timeout_once"):
            outcome = "approve"
        elif behaviour == "decline":
            outcome = "decline"
        else:
            draw = rng.random()
            approve, decline = _conf("PAYMENT_APPROVE_RATE"), _conf("PAYMENT_DECLINE_RATE")
            outcome = "approve" if draw < approve else "decline" if draw < approve + decline else "timeout"
        if outcome == "timeout":
            _record("payment", "charge", key, order_id, GatewayResult(ok=False, reason="timeout", latency_ms=latency),
                    final=False, outcome="timeout")
            raise GatewayTimeout("the payment provider timed out")
        if outcome == "approve":
            result = GatewayResult(ok=True, reference=f"txn_{secrets.token_hex(8)}",
                                   data={"amount": str(amount), "last4": card.last4 if card else ""}, latency_ms=latency)
        else:
            result = GatewayResult(ok=False, reason="Card declined by the issuer", latency_ms=latency)
        return _record("payment", "charge", key, order_id, result)

    @_counted("payment")
    def refund(self, *, key: str, order_id: int, transaction_id: str, amount: Decimal,
               timeout: float | None = None) -> GatewayResult:
        if (known := _remembered("payment", "refund", key)) is not None:
            return known
        latency = _latency(_rng(key), _conf("PAYMENT_LATENCY_MS"), timeout)
        result = GatewayResult(ok=True, reference=f"re_{secrets.token_hex(8)}",
                               data={"amount": str(amount), "transaction": transaction_id}, latency_ms=latency)
        return _record("payment", "refund", key, order_id, result)


class ShippingGateway:
    """The carrier creates a label: tracking number, carrier and estimated delivery."""

    @_counted("shipping")
    def create_label(self, *, key: str, order_id: int, zip_code: str, timeout: float | None = None) -> GatewayResult:
        if (known := _remembered("shipping", "label", key)) is not None:
            return known
        rng = _rng(key)
        latency = _latency(rng, _conf("SHIPPING_LATENCY_MS"), timeout)
        if zip_code == UNDELIVERABLE_ZIP:
            result = GatewayResult(ok=False, reason=f"Undeliverable address (ZIP {zip_code})", latency_ms=latency)
        elif rng.random() < _conf("SHIPPING_SUCCESS_RATE"):
            eta = date.today() + timedelta(days=rng.randint(2, 6))
            result = GatewayResult(
                ok=True, reference=f"1Z{rng.randrange(10**11, 10**12)}",
                data={"carrier": rng.choice(CARRIERS), "estimated_delivery": eta.isoformat()}, latency_ms=latency,
            )
        else:
            result = GatewayResult(ok=False, reason="The carrier could not create a label", latency_ms=latency)
        return _record("shipping", "label", key, order_id, result)


class NotificationGateway:
    """Sends e-mail through Django's e-mail backend (console by default)."""

    @_counted("notification")
    def send(self, *, key: str, to: str, subject: str, body: str) -> GatewayResult:
        from django.core.mail import send_mail

        latency = _latency(_rng(key), _conf("NOTIFICATION_LATENCY_MS"), None)
        send_mail(subject, body, None, [to], fail_silently=False)
        return GatewayResult(ok=True, latency_ms=latency)


inventory_gateway = InventoryGateway()
payment_gateway = PaymentGateway()
shipping_gateway = ShippingGateway()
notification_gateway = NotificationGateway()
