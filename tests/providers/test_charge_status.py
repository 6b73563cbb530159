"""PaymentProvider.charge_status, as the simulator answers it from its ledger: what became of a
charge, by its idempotency key (and reference)."""
import time
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from providers.base import CHARGE_APPROVED, CHARGE_DECLINED, CHARGE_PENDING, CHARGE_UNKNOWN, PaymentProvider
from providers.declines import DECLINES
from providers.models import GatewayCall
from providers.registry import payment_provider

pytestmark = pytest.mark.django_db

gateway = payment_provider()


def _charge(card: str, key: str, order_id: int = 1):
    token = gateway.tokenize(card).token
    return gateway.charge(key=key, order_id=order_id, token=token, amount=Decimal("25.00"), timeout=1)


def _bank_settles(key: str, *, at: float) -> None:
    call = GatewayCall.objects.get(gateway="payment", operation="charge", idempotency_key=key)
    call.result["data"]["bank"]["settles_at"] = at
    call.save(update_fields=["result"])


def test_the_simulator_implements_the_interface():
    assert isinstance(gateway, PaymentProvider)


def test_an_approved_charge_answers_approved_with_its_reference_and_amount():
    charged = _charge("4242424242424242", "k-approved")

    status = gateway.charge_status(key="k-approved", reference=charged.reference, timeout=1)

    assert (status.status, status.reference, status.amount, status.refunded) == (
        CHARGE_APPROVED, charged.reference, "25.00", False)


def test_a_charge_answers_the_order_it_was_made_for():
    _charge("4242424242424242", "k-order-7", order_id=7)
    _charge("4000000000003220", "k-order-8", order_id=8)

    assert gateway.charge_status(key="k-order-7", timeout=1).order_id == 7
    assert gateway.charge_status(key="k-order-8", timeout=1).order_id == 8
    assert gateway.charge_status(key="k-order-none", timeout=1).order_id is None


@pytest.mark.parametrize(("card", "code", "retryable"), [("4000000000000002", "generic_decline", True),
                                                         ("4000000000009979", "stolen_card", False)])
def test_a_declined_charge_answers_declined_with_its_code_and_the_advice(card, code, retryable):
    _charge(card, "k-declined")

    status = gateway.charge_status(key="k-declined", timeout=1)

    assert (status.status, status.code, status.retryable, status.reason) == (
        CHARGE_DECLINED, code, retryable, DECLINES[code].advice)


@pytest.mark.parametrize(("key", "reference"), [("k-never", ""), ("k-other", "txn_not_this_one")])
def test_a_charge_the_provider_does_not_have_is_unknown(key, reference):
    _charge("4242424242424242", "k-other")

    assert gateway.charge_status(key=key, reference=reference, timeout=1).status == CHARGE_UNKNOWN


@pytest.mark.parametrize(("card", "answer"), [("4000000000003220", CHARGE_APPROVED),
                                              ("4000000000003238", CHARGE_DECLINED)])
def test_a_pending_charge_is_pending_until_the_bank_settles_it(card, answer, settings):
    settings.SIMULATOR = {**settings.SIMULATOR, "PAYMENT_CONFIRM_DELAY_SECONDS": 30}
    pending = _charge(card, "k-3ds")

    before = gateway.charge_status(key="k-3ds", reference=pending.reference, timeout=1)
    _bank_settles("k-3ds", at=time.time() - 1)  # the callback delay has passed
    after = gateway.charge_status(key="k-3ds", reference=pending.reference, timeout=1)

    assert before.status == CHARGE_PENDING
    assert (after.status, after.reference) == (answer, pending.reference)
    declined = answer == CHARGE_DECLINED
    assert (after.reason, after.code) == ((DECLINES["authentication_required"].advice, "authentication_required")
                                          if declined else ("", ""))


def test_with_callbacks_off_the_bank_never_settles():
    pending = _charge("4000000000003220", "k-silent")  # the tests' delay is negative: never

    assert gateway.charge_status(key="k-silent", reference=pending.reference, timeout=1).status == CHARGE_PENDING


def test_a_refunded_charge_says_so():
    charged = _charge("4242424242424242", "k-refunded")
    gateway.refund(key="k-refunded-void", order_id=1, transaction_id=charged.reference, amount=Decimal("25.00"))

    status = gateway.charge_status(key="k-refunded", reference=charged.reference, timeout=1)

    assert (status.status, status.refunded) == (CHARGE_APPROVED, True)


def test_a_lookup_charges_nothing_and_is_counted():
    charged = _charge("4242424242424242", "k-counted")
    calls = GatewayCall.objects.count()
    counted = REGISTRY.get_sample_value("store_gateway_calls_total", {"gateway": "payment", "result": "ok"}) or 0

    gateway.charge_status(key="k-counted", reference=charged.reference, timeout=1)

    assert GatewayCall.objects.count() == calls  # a read: the ledger is unchanged
    assert REGISTRY.get_sample_value("store_gateway_calls_total", {"gateway": "payment", "result": "ok"}) == counted + 1
