"""The simulated providers: warehouse, payment, shipping and notification.

They are the only simulation in the store and implement the interfaces of providers.base.
Outcomes follow the configured rates (settings.SIMULATOR) and the deterministic triggers
(README.md: test cards, the undeliverable ZIP); see providers.simulation for seeding, latency,
the idempotency ledger and the outage switch (every call but a notification honours it).
"""
import random
import secrets
import time
from dataclasses import asdict
from datetime import date, timedelta
from decimal import Decimal

from django.core.mail import send_mail

from providers.base import (
    CHARGE_APPROVED,
    CHARGE_DECLINED,
    CHARGE_PENDING,
    CHARGE_UNKNOWN,
    DELIVERED,
    EXCEPTION,
    IN_TRANSIT,
    OUT_FOR_DELIVERY,
    RETURNED_TO_SENDER,
    ChargeStatus,
    Destination,
    GatewayResult,
    GatewayTimeout,
    Parcel,
    ParcelTracking,
    Token,
    TrackingUpdate,
)
from providers.declines import DECLINES, decline_for, declined
from providers.models import CardToken, GatewayCall
from providers.payment_callbacks import payment_callback_schedule
from providers.rates import RateQuote, rate_card_quotes
from providers.simulation import (
    answer_record,
    answer_remembered,
    counted,
    latency_wait,
    outage_raise,
    seeded_rng,
    setting,
)
from providers.steps import RATES
from providers.tracking_callbacks import tracking_callbacks_schedule

# Test cards (the README lists them): behaviour by full number. Only the token and last 4 are kept.
TEST_CARDS = {
    "4242424242424242": "approve",
    # Declined with the behaviour's decline code (providers.declines), every attempt; the numbers
    # are Stripe's test cards for the code where it has one.
    "4000000000000002": "generic_decline",
    "4000000000009995": "insufficient_funds",
    "4000000000000507": "do_not_honor",  # ISO 8583 response 05
    "4000000000009979": "stolen_card",
    "4000000000009987": "lost_card",
    "4000000000000069": "expired_card",
    "4000000000000127": "incorrect_cvc",
    # Declined "try again later" on the order's first charge, approved on the next (ISO 8583 19).
    "4000000000001901": "try_again_later",
    "4000000000000119": "timeout_once",
    # Pending (3-D Secure): the charge is settled later by the provider's webhook.
    "4000000000003220": "pending_approve",
    "4000000000003238": "pending_decline",
}
PENDING_CARDS = ("pending_approve", "pending_decline")
# The code of a pending charge the bank declines: the cardholder did not complete 3-D Secure.
PENDING_DECLINE_CODE = "authentication_required"
# A card without a test behaviour that draws a decline draws its code among these, alike: the soft
# codes only, so the pipeline's retry may still be approved (the demo's and the bench's mix of
# outcomes); hard declines come from their test cards.
RANDOM_DECLINE_CODES = tuple(code for code, decline in DECLINES.items()
                             if decline.retryable and code != PENDING_DECLINE_CODE)
# The carrier's address check refuses this ZIP, before any charge (the order fails, nothing charged).
UNDELIVERABLE_ZIP = "00000"
# The address passes the check, then every label fails: the saga refunds the payment.
LABEL_FAILS_ZIP = "00500"
# Parcels that do not arrive (the README lists them): the carrier cannot find the address (it
# stops there: someone must act), or it gives up and returns the parcel to the shop.
ADDRESS_NOT_FOUND_ZIP = "00404"
RETURN_TO_SENDER_ZIP = "00303"
CARRIERS = ("UPS", "FedEx", "USPS", "DHL")
HUBS = ("Memphis, TN", "Louisville, KY", "Indianapolis, IN", "Ontario, CA", "Allentown, PA")
ADDRESS_NOT_FOUND = "Address not found"


def parcel_journey(zip_code: str, *, start: float, step: float, rng: random.Random) -> list[TrackingUpdate]:
    """The tracking updates a parcel to `zip_code` will have, `step` seconds apart from `start`
    (unix seconds): in transit, out for delivery, delivered; for the test ZIPs, in transit then an
    exception (and, for RETURN_TO_SENDER_ZIP, back to the shop)."""
    hub = rng.choice(HUBS)
    steps = [(IN_TRANSIT, "Departed the carrier's facility", hub)]
    if zip_code == ADDRESS_NOT_FOUND_ZIP:
        steps.append((EXCEPTION, f"{ADDRESS_NOT_FOUND}: the carrier holds the parcel until the address is confirmed",
                      ""))
    elif zip_code == RETURN_TO_SENDER_ZIP:
        steps += [(EXCEPTION, f"{ADDRESS_NOT_FOUND}: the parcel goes back to the sender", ""),
                  (RETURNED_TO_SENDER, "Returned to the sender", hub)]
    else:
        steps += [(OUT_FOR_DELIVERY, "Out for delivery", ""), (DELIVERED, "Delivered: left at the front door", "")]
    return [TrackingUpdate(id=f"trk_{secrets.token_hex(12)}", status=status, occurred_at=int(start + step * n),
                           description=description, location=location)
            for n, (status, description, location) in enumerate(steps, start=1)]


class InventoryGateway:
    """The warehouse confirms it holds the order's items."""

    @counted("inventory")
    def check(self, *, key: str, order_id: int, items: list[tuple[str, int]], timeout: float | None = None) -> GatewayResult:
        outage_raise("inventory", timeout)
        if (known := answer_remembered("inventory", "check", key)) is not None:
            return known
        rng = seeded_rng(key)
        latency = latency_wait(rng, setting("INVENTORY_LATENCY_MS"), timeout)
        if rng.random() < setting("INVENTORY_AVAILABLE_RATE"):
            result = GatewayResult(ok=True, reference=f"wh-{order_id}", latency_ms=latency)
        else:
            missing = rng.choice(items)[0] if items else "an item"
            result = GatewayResult(ok=False, reason="Out of stock at the warehouse",
                                   data={"missing": [missing]}, latency_ms=latency)
        return answer_record("inventory", "check", key, order_id, result)


class PaymentGateway:
    """Card payments: tokenize at checkout, charge and refund by idempotency key."""

    name = "simulator"

    def tokenize(self, card_number: str) -> Token:
        token = CardToken.objects.create(
            token=f"tok_{secrets.token_hex(12)}", last4=card_number[-4:], behaviour=TEST_CARDS.get(card_number, "")
        )
        return Token(token=token.token, last4=token.last4)

    @counted("payment")
    def charge(self, *, key: str, order_id: int, token: str, amount: Decimal, timeout: float | None = None) -> GatewayResult:
        # A charge that got no answer stays in the ledger (not final), as a timed-out one does.
        outage_raise("payment", timeout, on_failure=lambda: answer_record(
            "payment", "charge", key, order_id, GatewayResult(ok=False, reason="timeout (outage)"), final=False,
            outcome="timeout"))
        if (known := answer_remembered("payment", "charge", key)) is not None:
            return known
        card = CardToken.objects.filter(token=token).first() if token else None
        behaviour = card.behaviour if card else ""
        # A card without a test behaviour draws its outcome: each retry of the key draws afresh.
        tries = GatewayCall.objects.filter(idempotency_key=key, gateway="payment").count() if not behaviour else 0
        rng = seeded_rng(f"{key}:{tries}")
        if behaviour == "timeout_once" and not GatewayCall.objects.filter(
            gateway="payment", operation="charge", idempotency_key=key
        ).exists():
            answer_record("payment", "charge", key, order_id, GatewayResult(ok=False, reason="timeout"), final=False,
                    outcome="timeout")
            raise GatewayTimeout("the payment provider did not answer (test card 0119)")
        try:
            latency = latency_wait(rng, setting("PAYMENT_LATENCY_MS"), timeout)
        except GatewayTimeout:
            answer_record("payment", "charge", key, order_id, GatewayResult(ok=False, reason="timeout"), final=False,
                    outcome="timeout")
            raise
        if behaviour in PENDING_CARDS:
            return self._pending(key=key, order_id=order_id, approve=behaviour == "pending_approve", latency=latency,
                                 amount=amount)
        code = _decline_code(behaviour)
        if behaviour in ("approve", "timeout_once"):
            outcome = "approve"
        elif code == "try_again_later":  # the bank approves once it has been asked before for the order
            outcome = "approve" if GatewayCall.objects.filter(
                gateway="payment", operation="charge", order_id=order_id).exists() else "decline"
        elif code:
            outcome = "decline"
        else:
            draw = rng.random()
            approve, decline = setting("PAYMENT_APPROVE_RATE"), setting("PAYMENT_DECLINE_RATE")
            outcome = "approve" if draw < approve else "decline" if draw < approve + decline else "timeout"
            code = rng.choice(RANDOM_DECLINE_CODES) if outcome == "decline" else ""
        if outcome == "timeout":
            answer_record("payment", "charge", key, order_id, GatewayResult(ok=False, reason="timeout", latency_ms=latency),
                    final=False, outcome="timeout")
            raise GatewayTimeout("the payment provider timed out")
        if outcome == "approve":
            result = GatewayResult(ok=True, reference=f"txn_{secrets.token_hex(8)}",
                                   data={"amount": str(amount), "last4": card.last4 if card else ""}, latency_ms=latency)
        else:
            result = declined(code, latency_ms=latency)
        return answer_record("payment", "charge", key, order_id, result)

    def _pending(self, *, key: str, order_id: int, approve: bool, latency: int, amount: Decimal) -> GatewayResult:
        """Answer "pending" (final: a repeated charge with the key answers it again, charging
        nothing) and queue the callback that settles it, once per key.

        The ledger row keeps what the bank will answer and when (`data["bank"]`: "approve" or
        "decline" with its `code`, settled at unix seconds `settles_at`, the callback's delay from
        now; never for a negative delay), which `charge_status` reads."""
        delay = setting("PAYMENT_CONFIRM_DELAY_SECONDS")
        bank = {"answer": "approve" if approve else "decline",
                "settles_at": time.time() + delay if delay >= 0 else None,
                **({} if approve else {"code": PENDING_DECLINE_CODE})}
        result = GatewayResult(ok=False, pending=True, reference=f"txn_{secrets.token_hex(8)}",
                               reason="Waiting for the bank's confirmation", latency_ms=latency,
                               data={"amount": str(amount), "bank": bank})
        recorded = answer_record("payment", "charge", key, order_id, result, outcome="pending")
        if recorded is result:  # this call's answer was kept: no other call queued a callback
            payment_callback_schedule(order_id=order_id, key=key, reference=result.reference,
                                      decline=None if approve else decline_for(PENDING_DECLINE_CODE))
        return recorded

    @counted("payment")
    def refund(self, *, key: str, order_id: int, transaction_id: str, amount: Decimal,
               timeout: float | None = None) -> GatewayResult:
        outage_raise("payment", timeout)
        if (known := answer_remembered("payment", "refund", key)) is not None:
            return known
        latency = latency_wait(seeded_rng(key), setting("PAYMENT_LATENCY_MS"), timeout)
        result = GatewayResult(ok=True, reference=f"re_{secrets.token_hex(8)}",
                               data={"amount": str(amount), "transaction": transaction_id}, latency_ms=latency)
        return answer_record("payment", "refund", key, order_id, result)


    @counted("payment", answered=lambda status: "failed" if status.status == CHARGE_UNKNOWN else "ok")
    def charge_status(self, *, key: str, reference: str = "", timeout: float | None = None) -> ChargeStatus:
        """What became of the charge with idempotency `key`, from the ledger (a read: not recorded).

        An approved or declined charge answers so; a pending one answers what the bank said once
        its `settles_at` has passed, pending before (or forever when callbacks are off); a key
        the ledger has no final charge for, or whose reference is not `reference`, is unknown.
        `order_id` is the order the ledger recorded the charge for. A declined charge answers the
        bank's code ("" when the ledger's bank gave none) and, as `reason`, the bank's own words
        when the ledger has them (`data.bank.reason`), else the code's advice."""
        outage_raise("payment", timeout)
        latency = latency_wait(seeded_rng(f"{key}:status"), setting("PAYMENT_LATENCY_MS"), timeout)
        call = GatewayCall.objects.filter(gateway="payment", operation="charge", idempotency_key=key,
                                          final=True).first()
        found = (call.result if call else {}) or {}
        if call is None or (reference and found.get("reference") != reference):
            return ChargeStatus(CHARGE_UNKNOWN, latency_ms=latency)
        data, reference = found.get("data") or {}, found.get("reference", "")
        status = {"ok": CHARGE_APPROVED, "failed": CHARGE_DECLINED}.get(call.outcome, CHARGE_PENDING)
        if status == CHARGE_PENDING:
            bank = data.get("bank") or {}
            if bank.get("settles_at") is not None and time.time() >= bank["settles_at"]:
                status = CHARGE_APPROVED if bank.get("answer") == "approve" else CHARGE_DECLINED
        decline, code, said = None, "", ""
        if status == CHARGE_DECLINED:
            answered = (data.get("bank") or {}) if call.outcome == "pending" else found
            # As a bank may: a code or none, and its own words or none (the store's advice then).
            code, said = answered.get("code", ""), (data.get("bank") or {}).get("reason", "")
            decline = decline_for(code)
        refunded = bool(reference) and GatewayCall.objects.filter(
            gateway="payment", operation="refund", result__data__transaction=reference).exists()
        return ChargeStatus(status, reference=reference, reason=said or (decline.advice if decline else ""),
                            code=code, retryable=decline.retryable if decline else True,
                            amount=str(data.get("amount", "")), refunded=refunded, order_id=call.order_id,
                            latency_ms=latency)


def _decline_code(behaviour: str) -> str:
    """The decline code a test card's behaviour declines with ("" for one that does not);
    "decline" is how cards tokenized before decline codes were named generic declines."""
    if behaviour == "decline":
        return "generic_decline"
    return behaviour if behaviour in DECLINES else ""


class ShippingGateway:
    """The carrier quotes its rates (`rates`, from the shop's rate card), says whether it delivers
    to an address (`check_address`, before the charge), creates a label (tracking number,
    carrier, estimated delivery), then says how the parcel goes: by its webhook
    (providers.tracking_callbacks) and when asked (`tracking`)."""

    @counted(RATES, answered=lambda quotes: "ok" if quotes else "failed")
    def rates(self, *, destination: Destination, parcel: Parcel, timeout: float | None = None) -> tuple[RateQuote, ...]:
        """The rate card's quotes (providers.rates.rate_card_quotes) after SIMULATOR["RATES_LATENCY_MS"]
        (a read: not recorded in the ledger). Its outage is the "rates" role's (`provider_outage
        rates`), as its circuit is: an outage of the quotes stops neither the checks nor the labels."""
        outage_raise(RATES, timeout)
        rng = seeded_rng(f"{destination.zip_code}:{parcel.weight_grams}:rates")
        latency_wait(rng, setting("RATES_LATENCY_MS"), timeout)
        return rate_card_quotes(state=destination.state, zip_code=destination.zip_code,
                                weight_grams=parcel.weight_grams)

    @counted("address")
    def check_address(self, *, key: str, order_id: int, address: str, city: str, state: str, zip_code: str,
                      timeout: float | None = None) -> GatewayResult:
        """Deliverable unless the ZIP is UNDELIVERABLE_ZIP; the answer is kept in the ledger by key.
        Its outage is the "address" role's (`provider_outage address`), as its circuit is: an
        outage of the check does not stop the labels, nor theirs the check."""
        outage_raise("address", timeout)
        if (known := answer_remembered("address", "check", key)) is not None:
            return known
        latency = latency_wait(seeded_rng(key), setting("ADDRESS_LATENCY_MS"), timeout)
        if zip_code == UNDELIVERABLE_ZIP:
            result = GatewayResult(ok=False, reason=f"Undeliverable address (ZIP {zip_code})", latency_ms=latency)
        else:
            result = GatewayResult(ok=True, reference=f"addr-{order_id}", latency_ms=latency)
        return answer_record("address", "check", key, order_id, result)

    @counted("shipping")
    def create_label(self, *, key: str, order_id: int, zip_code: str, timeout: float | None = None) -> GatewayResult:
        """A label, whose parcel's journey (`parcel_journey`, SIMULATOR["TRACKING_STEP_SECONDS"]
        apart) is fixed in the ledger with it (`data["tracking"]`) and called back once per key."""
        outage_raise("shipping", timeout)
        if (known := answer_remembered("shipping", "label", key)) is not None:
            return known
        rng = seeded_rng(key)
        latency = latency_wait(rng, setting("SHIPPING_LATENCY_MS"), timeout)
        if zip_code in (UNDELIVERABLE_ZIP, LABEL_FAILS_ZIP):
            result = GatewayResult(ok=False, reason=f"The carrier could not create a label (ZIP {zip_code})",
                                   latency_ms=latency)
        elif rng.random() < setting("SHIPPING_SUCCESS_RATE"):
            eta = date.today() + timedelta(days=rng.randint(2, 6))
            journey = parcel_journey(zip_code, start=time.time(), step=setting("TRACKING_STEP_SECONDS"), rng=rng)
            result = GatewayResult(
                ok=True, reference=f"1Z{rng.randrange(10**11, 10**12)}",
                data={"carrier": rng.choice(CARRIERS), "estimated_delivery": eta.isoformat(),
                      "tracking": [asdict(update) for update in journey]}, latency_ms=latency,
            )
        else:
            result = GatewayResult(ok=False, reason="The carrier could not create a label", latency_ms=latency)
        recorded = answer_record("shipping", "label", key, order_id, result)
        if recorded is result and result.ok:  # this call's label was kept: no other call queued its callbacks
            tracking_callbacks_schedule(order_id=order_id, tracking_number=result.reference, updates=journey)
        return recorded

    @counted("shipping", answered=lambda tracking: "ok" if tracking.found else "failed")
    def tracking(self, *, tracking_number: str, timeout: float | None = None) -> ParcelTracking:
        """The updates of the label `tracking_number` whose time has come, from the ledger (a read:
        not recorded); not found for a tracking number the carrier never issued."""
        outage_raise("shipping", timeout)
        latency = latency_wait(seeded_rng(f"{tracking_number}:tracking"), setting("SHIPPING_LATENCY_MS"), timeout)
        call = GatewayCall.objects.filter(gateway="shipping", operation="label", final=True, outcome="ok",
                                          result__reference=tracking_number).first() if tracking_number else None
        if call is None:
            return ParcelTracking(found=False, latency_ms=latency)
        now = time.time()
        updates = tuple(TrackingUpdate(**update) for update in (call.result.get("data") or {}).get("tracking", [])
                        if update["occurred_at"] <= now)
        return ParcelTracking(found=True, updates=updates, latency_ms=latency)


class NotificationGateway:
    """Sends e-mail through Django's e-mail backend (console by default)."""

    @counted("notification")
    def send(self, *, key: str, to: str, subject: str, body: str) -> GatewayResult:
        latency = latency_wait(seeded_rng(key), setting("NOTIFICATION_LATENCY_MS"), None)
        send_mail(subject, body, None, [to], fail_silently=False)
        return GatewayResult(ok=True, latency_ms=latency)
