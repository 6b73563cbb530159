"""The simulator's outage switch: `manage.py provider_outage`, and every simulator honouring it."""
import time
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from providers import simulation
from providers.base import Destination, GatewayTimeout, Parcel
from providers.models import GatewayCall, SimulatedOutage
from providers.registry import payment_provider, provider
from providers.steps import steps

pytestmark = pytest.mark.django_db

# Small: a "timeout" outage waits the caller's per-attempt timeout.
TIMEOUT = 0.05


@pytest.fixture(autouse=True)
def fresh_outages():
    """No outage read by an earlier test is remembered, nor one of ours by a later test."""
    simulation.outages_forget()
    yield
    simulation.outages_forget()


def outage(name: str, *args: str) -> str:
    out = StringIO()
    call_command("provider_outage", name, *args, stdout=out)
    return out.getvalue()


def token(card="4242424242424242"):
    return payment_provider().tokenize(card).token


CALLS = {
    "address": lambda key, timeout: provider("address").check_address(key=key, order_id=1, address="1 Main St",
                                                                      city="Springfield", state="IL",
                                                                      zip_code="62701", timeout=timeout),
    "inventory": lambda key, timeout: provider("inventory").check(key=key, order_id=1, items=[("prod-001", 1)], timeout=timeout),
    "risk": lambda key, timeout: provider("risk").score(key=key, order_id=1, amount=Decimal("10.00"), items=1,
                                                       zip_code="62701", timeout=timeout),
    "payment": lambda key, timeout: payment_provider().charge(key=key, order_id=1, token=token(),
                                                              amount=Decimal("10.00"), timeout=timeout),
    "refund": lambda key, timeout: payment_provider().refund(key=key, order_id=1, transaction_id="txn",
                                                             amount=Decimal("1.00"), timeout=timeout),
    "shipping": lambda key, timeout: provider("shipping").create_label(key=key, order_id=1, zip_code="62701", timeout=timeout),
}
PROVIDER_OF = {"address": "address", "inventory": "inventory", "risk": "risk", "payment": "payment",
               "refund": "payment", "shipping": "shipping"}


# --- the command -----------------------------------------------------------------------

def test_the_command_starts_an_outage_for_that_long():
    before = timezone.now()
    said = outage("payment", "--seconds", "60")
    row = SimulatedOutage.objects.get()
    assert (row.provider, row.mode) == ("payment", "timeout")
    assert before + timedelta(seconds=59) < row.until <= timezone.now() + timedelta(seconds=60)
    assert "payment: outage (timeout) until" in said and "(60 s)" in said


def test_starting_it_again_moves_the_end_and_the_mode_of_the_one_outage():
    outage("shipping", "--seconds", "60")
    outage("shipping", "--seconds", "5", "--mode", "error")
    row = SimulatedOutage.objects.get(provider="shipping")
    assert row.mode == "error" and row.until <= timezone.now() + timedelta(seconds=5)


def test_end_ends_it_and_says_when_none_was_on():
    outage("risk", "--seconds", "60")
    assert outage("risk", "--end").strip() == "risk: outage ended"
    assert not SimulatedOutage.objects.exists()
    assert outage("risk", "--end").strip() == "risk: no outage was on"


def test_without_a_provider_it_lists_the_outages_on_now():
    out = StringIO()
    call_command("provider_outage", stdout=out)
    assert out.getvalue().strip() == "No provider outage is on."
    outage("inventory", "--seconds", "30")
    SimulatedOutage.objects.create(provider="payment", until=timezone.now() - timedelta(seconds=1))  # over
    out = StringIO()
    call_command("provider_outage", stdout=out)
    assert "inventory: outage (timeout) until" in out.getvalue() and "payment" not in out.getvalue()


@pytest.mark.parametrize("args", [("notification",), ("payment", "--mode", "slow"), ("payment", "--seconds", "0"),
                                  ("--end",)])
def test_the_command_refuses_what_it_cannot_do(args):
    with pytest.raises(CommandError):
        call_command("provider_outage", *args, stdout=StringIO())
    assert not SimulatedOutage.objects.exists()


# --- the simulators honour it ------------------------------------------------------------

@pytest.mark.parametrize("call", list(CALLS))
def test_in_a_timeout_outage_every_call_waits_its_timeout_then_times_out(call):
    assert CALLS[call](f"before-{call}", TIMEOUT).ok
    outage(PROVIDER_OF[call], "--seconds", "60")
    started = time.monotonic()
    with pytest.raises(GatewayTimeout, match="outage"):
        CALLS[call](f"during-{call}", TIMEOUT)
    assert time.monotonic() - started >= TIMEOUT
    # A call with a remembered answer gets no answer either: the provider is down.
    with pytest.raises(GatewayTimeout):
        CALLS[call](f"before-{call}", TIMEOUT)


@pytest.mark.parametrize("call", list(CALLS))
def test_in_an_error_outage_every_call_fails_at_once(call):
    outage(PROVIDER_OF[call], "--seconds", "60", "--mode", "error")
    started = time.monotonic()
    with pytest.raises(GatewayTimeout, match="unavailable"):
        CALLS[call](f"fast-{call}", 5)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("call", list(CALLS))
def test_an_outage_of_one_provider_leaves_the_others_alone(call):
    others = [name for name in steps() if name != PROVIDER_OF[call]]
    for name in others:
        outage(name, "--seconds", "60", "--mode", "error")
    assert CALLS[call](f"alone-{call}", TIMEOUT).ok


def test_a_charge_without_an_answer_stays_in_the_ledger_as_a_timeout_and_the_next_one_charges():
    outage("payment", "--seconds", "60", "--mode", "error")
    for _ in range(2):
        with pytest.raises(GatewayTimeout):
            CALLS["payment"]("order-7-charge", TIMEOUT)
    assert list(GatewayCall.objects.values_list("outcome", "final")) == [("timeout", False)] * 2
    outage("payment", "--end")
    assert CALLS["payment"]("order-7-charge", TIMEOUT).ok
    assert GatewayCall.objects.filter(outcome="ok", final=True).count() == 1


def test_the_outage_ends_at_its_time_without_another_query():
    SimulatedOutage.objects.create(provider="shipping", until=timezone.now() + timedelta(seconds=0.3),
                                   mode="error")
    with pytest.raises(GatewayTimeout):
        CALLS["shipping"]("a", TIMEOUT)
    time.sleep(0.35)
    with CaptureQueriesContext(connection) as queries:
        assert simulation.outage_mode("shipping") is None
    assert not queries.captured_queries


def _outage_reads(queries) -> int:
    return sum("providers_simulatedoutage" in query["sql"] for query in queries.captured_queries)


def test_each_process_reads_the_outages_at_most_once_a_second(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(simulation._outages, "clock", lambda: now[0])
    with CaptureQueriesContext(connection) as queries:
        for i in range(20):
            CALLS["inventory"](f"many-{i}", TIMEOUT)
    assert _outage_reads(queries) == 1
    # Another process (say, an operator's manage.py) starts an outage: seen after at most a second.
    SimulatedOutage.objects.create(provider="inventory", until=timezone.now() + timedelta(seconds=60), mode="error")
    now[0] += 0.9
    assert simulation.outage_mode("inventory") is None
    now[0] += 0.1
    with CaptureQueriesContext(connection) as queries:
        for i in range(5):
            with pytest.raises(GatewayTimeout):
                CALLS["inventory"](f"down-{i}", TIMEOUT)
    assert _outage_reads(queries) == 1


# --- the carrier's rate quotes: a role of their own ----------------------------------------

def rates(timeout=TIMEOUT):
    return provider("shipping").rates(destination=Destination("1 Main St", "Springfield", "IL", "62701"),
                                      parcel=Parcel(weight_grams=1500), timeout=timeout)


def test_an_outage_of_the_rate_quotes_stops_them_and_nothing_else():
    assert [quote.service for quote in rates()] == ["standard", "express"]
    assert "rates: outage (error) until" in outage("rates", "--seconds", "60", "--mode", "error")
    with pytest.raises(GatewayTimeout, match="unavailable"):
        rates()
    assert CALLS["address"]("rates-down-address", TIMEOUT).ok
    assert CALLS["shipping"]("rates-down-label", TIMEOUT).ok
    assert not GatewayCall.objects.filter(gateway="rates").exists()  # quotes are reads: never in the ledger


def test_an_outage_of_the_labels_leaves_the_rate_quotes_alone():
    outage("shipping", "--seconds", "60", "--mode", "error")
    outage("address", "--seconds", "60", "--mode", "error")
    assert rates()
