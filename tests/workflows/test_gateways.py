"""The simulated providers: deterministic triggers, idempotency keys, timeouts, retries."""
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from providers.base import GatewayTimeout, InventoryProvider, PaymentProvider, ShippingProvider
from providers.calls import ProviderRequest
from providers.models import GatewayCall, ProviderCall, SimulatedOutage
from providers.registry import payment_provider, provider
from providers.simulation import outages_forget
from tests.workflow_versions import version_publish_with
from workflows.policy.selectors import policy_of
from workflows.policy.values import StepPolicy
from workflows.runner import ANSWERED, EXHAUSTED, step_run

pytestmark = pytest.mark.django_db

# The providers settings choose: the simulators.
inventory_gateway, payment_gateway, shipping_gateway = provider("inventory"), payment_provider(), provider("shipping")


def test_settings_choose_simulators_that_implement_the_interfaces():
    assert isinstance(inventory_gateway, InventoryProvider)
    assert isinstance(payment_gateway, PaymentProvider) and payment_gateway.name == "simulator"
    assert isinstance(shipping_gateway, ShippingProvider)


def charge(token, key="k"):
    return payment_gateway.charge(key=key, order_id=1, token=token, amount=Decimal("10.00"), timeout=1)


def test_test_cards_decide_the_payment():
    assert charge(payment_gateway.tokenize("4242424242424242").token, "a").ok
    declined = charge(payment_gateway.tokenize("4000000000000002").token, "b")
    assert not declined.ok and "declined" in declined.reason.lower()
    once = payment_gateway.tokenize("4000000000000119").token
    with pytest.raises(GatewayTimeout):
        charge(once, "c")
    assert charge(once, "c").ok


def test_a_repeated_charge_returns_the_first_result_without_charging_again():
    token = payment_gateway.tokenize("4242424242424242").token
    first, second = charge(token, "same"), charge(token, "same")
    assert first.reference == second.reference
    assert GatewayCall.objects.filter(idempotency_key="same").count() == 1


def test_refunds_are_idempotent_by_key():
    first = payment_gateway.refund(key="r", order_id=1, transaction_id="txn", amount=Decimal("5.00"))
    again = payment_gateway.refund(key="r", order_id=1, transaction_id="txn", amount=Decimal("5.00"))
    assert first.reference == again.reference
    assert GatewayCall.objects.filter(operation="refund").count() == 1


def test_the_carrier_refuses_zip_00000_at_its_address_check_and_remembers_its_answer_by_key():
    refused = shipping_gateway.check_address(key="a1", order_id=1, address="1 Main St", city="Springfield",
                                             state="IL", zip_code="00000")
    assert not refused.ok and refused.reason == "Undeliverable address (ZIP 00000)"
    ok = shipping_gateway.check_address(key="a2", order_id=1, address="1 Main St", city="Springfield", state="IL",
                                        zip_code="00500")
    again = shipping_gateway.check_address(key="a2", order_id=1, address="1 Main St", city="Springfield",
                                           state="IL", zip_code="00500")
    # A repeated check answers as the first did, from the ledger (at once).
    assert ok.ok and replace(again, latency_ms=ok.latency_ms) == ok
    assert GatewayCall.objects.filter(gateway="address", operation="check").count() == 2


@pytest.fixture
def fresh_outages():
    """No outage of this test is remembered by a later one (the simulators read them once a second)."""
    outages_forget()
    yield
    outages_forget()


def test_address_checks_honour_their_outage_and_their_timeout(settings, fresh_outages):
    settings.SIMULATOR = {**settings.SIMULATOR, "LATENCY_SCALE": 1.0, "ADDRESS_LATENCY_MS": (100, 100)}
    with pytest.raises(GatewayTimeout):  # 0.1 s of latency, 0.01 s allowed
        shipping_gateway.check_address(key="slow", order_id=1, address="1 Main St", city="Springfield", state="IL",
                                       zip_code="62701", timeout=0.01)
    SimulatedOutage.objects.create(provider="address", mode="error", until=timezone.now() + timedelta(minutes=1))
    outages_forget()
    with pytest.raises(GatewayTimeout):
        shipping_gateway.check_address(key="down", order_id=1, address="1 Main St", city="Springfield", state="IL",
                                       zip_code="62701", timeout=5)
    assert not GatewayCall.objects.filter(gateway="address").exists()


def test_labels_to_zips_00000_and_00500_fail_and_others_get_a_label():
    for zip_code in ("00000", "00500"):
        failed = shipping_gateway.create_label(key=f"s-{zip_code}", order_id=1, zip_code=zip_code)
        assert not failed.ok and zip_code in failed.reason
    label = shipping_gateway.create_label(key="s2", order_id=1, zip_code="12345")
    assert label.ok and label.reference.startswith("1Z") and label.data["carrier"]


def test_latency_beyond_the_timeout_is_a_timeout(settings):
    settings.SIMULATOR = {**settings.SIMULATOR, "LATENCY_SCALE": 1.0, "INVENTORY_LATENCY_MS": (100, 100)}
    with pytest.raises(GatewayTimeout):
        inventory_gateway.check(key="slow", order_id=1, items=[("prod-001", 1)], timeout=0.01)
    assert not GatewayCall.objects.filter(idempotency_key="slow").exists()


def _counter(start: int = 0):
    """count_failure for step_run: a step's failures, as the order would keep them."""
    failures = [start]

    def count() -> int:
        failures[0] += 1
        return failures[0]

    return count


def _policy(*, attempts: int, base: float, timeout: float) -> StepPolicy:
    """Version 1's payment policy with these attempts, backoff base and timeout."""
    return replace(policy_of(1).step("payment"), attempts=attempts, base=base, timeout=timeout)


def _request(step: str, key: str = "k") -> ProviderRequest:
    return ProviderRequest(step, "call", key, 1, step=step)


def test_step_runner_retries_transient_errors_then_gives_up():
    calls = []

    def always_times_out(timeout):
        calls.append(timeout)
        raise GatewayTimeout("no answer")

    outcome = step_run("payment", always_times_out, _policy(attempts=3, base=1.0, timeout=30),
                       failures=0, count_failure=_counter(), request=_request("payment"))
    assert len(calls) == 3 and calls == [30, 30, 30]
    assert outcome.kind == EXHAUSTED and "timed out (3 attempts)" in outcome.reason
    assert outcome.attempts == 3
    # Each attempt is in the store's record of its calls, numbered, with the provider's words.
    recorded = ProviderCall.objects.filter(idempotency_key="k").values_list("attempt", "outcome", "reason")
    assert list(recorded) == [(n, "timeout", "no answer") for n in (1, 2, 3)]


def test_the_retry_budget_holds_across_runs_and_caps_generous_retries(settings):
    calls = []

    def always_times_out(timeout):
        calls.append(timeout)
        raise GatewayTimeout("no answer")

    version_publish_with({"steps.shipping.circuit.failures": 100})
    generous = _policy(attempts=10, base=1.0, timeout=30)
    assert step_run("shipping", always_times_out, generous, failures=0, count_failure=_counter(),
                    request=_request("shipping")).attempts == 3
    # A later run of the same step (after a restart) has only what is left of the budget.
    calls.clear()
    outcome = step_run("shipping", always_times_out, generous, failures=2, count_failure=_counter(2),
                       request=_request("shipping", "later"))
    assert (outcome.kind, len(calls)) == (EXHAUSTED, 1)
    assert list(ProviderCall.objects.filter(idempotency_key="later").values_list("attempt", flat=True)) == [3]
    calls.clear()
    assert step_run("shipping", always_times_out, generous, failures=3, count_failure=_counter(3),
                    request=_request("shipping")).kind == EXHAUSTED
    assert calls == []


def test_step_runner_does_not_retry_business_failures():
    calls = []

    def declines(timeout):
        calls.append(timeout)
        return payment_gateway.charge(key="d", order_id=1, token=payment_gateway.tokenize("4000000000000002").token,
                                      amount=Decimal("1.00"), timeout=timeout)

    outcome = step_run("payment", declines, _policy(attempts=3, base=1.0, timeout=30),
                       failures=0, count_failure=_counter(), request=_request("payment", "d"))
    assert len(calls) == 1 and outcome.kind == ANSWERED and not outcome.result.ok
    declined = ProviderCall.objects.get(idempotency_key="d")
    assert (declined.outcome, declined.reason, declined.attempt) == (
        "declined", f"generic_decline (soft decline): {outcome.result.reason}", 1)


def test_backoff_grows_exponentially_with_jitter_up_to_its_cap(settings):
    settings.PIPELINE = {**settings.PIPELINE, "BACKOFF_SCALE": 1.0}
    policy = _policy(attempts=3, base=1.0, timeout=30)
    for attempt, base in ((1, 1.0), (2, 2.0), (3, 4.0)):
        delays = {policy.backoff(attempt) for _ in range(20)}
        assert all(base * 0.5 <= delay <= base * 1.5 for delay in delays)
        assert len(delays) > 1  # jittered
    capped = replace(policy, factor=10.0, cap=5.0, jitter=0.0)
    assert [capped.backoff(attempt) for attempt in (1, 2, 3)] == [1.0, 5.0, 5.0]


@pytest.mark.parametrize(("setting", "value", "error"), [
    ("PAYMENT_PROVIDER", "stripe", "providers.E003"),
    ("PAYMENT_PROVIDERS", {"simulator": "providers.nowhere.Gateway"}, "providers.E002"),
    ("PROVIDERS", {"inventory": "providers.simulated.Nothing", "shipping": "providers.simulated.ShippingGateway",
                   "notification": "providers.simulated.NotificationGateway", "risk": "providers.risk.RiskSimulator"},
     "providers.E001"),
])
def test_a_provider_setting_that_names_nothing_fails_the_system_check(settings, setting, value, error):
    """Found by `manage.py check` (and migrate, on deploy), not by the first customer at checkout."""
    from django.core import checks

    assert not [found for found in checks.run_checks() if found.id.startswith("providers.")]
    setattr(settings, setting, value)

    assert error in [found.id for found in checks.run_checks() if found.is_serious()]
