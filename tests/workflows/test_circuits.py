"""A provider that keeps timing out: the retry budget, the shared circuit breaker, the Delayed
list and re-drive, as the pipeline runs them (in-process, django-q2's sync mode)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order
from orders.services import order_redrive
from providers import breakers
from providers.models import GatewayCall, ProviderCircuit
from tests.workflow_versions import version_publish_with
from workflows.tasks import circuit_wake

# Not a test card: the simulator answers by its rates, which these tests set.
CARD_BY_RATES = "4111111111111111"


@pytest.fixture
def payments_time_out(settings, sync_pipeline):
    settings.SIMULATOR = {**settings.SIMULATOR, "PAYMENT_APPROVE_RATE": 0.0, "PAYMENT_DECLINE_RATE": 0.0}
    return settings


def charges(order: Order) -> int:
    return GatewayCall.objects.filter(gateway="payment", operation="charge", order_id=order.pk).count()


def test_a_step_spends_at_most_its_budget_then_the_order_waits_delayed_for_a_re_drive(
        payments_time_out, place_order, customer, staff_user):
    version_publish_with({"steps.payment.circuit.failures": 100})
    order = Order.objects.get(pk=place_order(customer, card=CARD_BY_RATES).pk)

    assert (order.state, order.stalled_in) == ("stalled", "paying")
    assert charges(order) == 3
    assert "Payment provider timed out (3 attempts)" in order.failure_reason
    assert order.stock_status == "reserved" and not order.transaction_id  # nothing charged, nothing released

    payments_time_out.SIMULATOR = {**payments_time_out.SIMULATOR, "PAYMENT_APPROVE_RATE": 1.0}
    order_redrive(order=order, actor=staff_user)
    order.refresh_from_db()
    assert order.state == "delivered"
    redrive = order.events.get(transition="redrive_payment")
    assert (redrive.actor, redrive.source_state, redrive.target_state) == (staff_user, "stalled", "paying")


def test_an_open_circuit_stops_calls_and_its_probe_lets_the_waiting_orders_go_on(
        payments_time_out, place_order, customer):
    version_publish_with({"steps.payment.circuit.failures": 2})
    first = place_order(customer, card=CARD_BY_RATES)
    second = place_order(customer, card=CARD_BY_RATES)
    first.refresh_from_db(), second.refresh_from_db()

    # Two timeouts opened the circuit: the first order waits in its step with a call left, the
    # second never called.
    assert breakers.circuit("payment", fresh=True).state == breakers.OPEN
    assert (first.state, charges(first), first.step_failures) == ("paying", 2, 2)
    assert (second.state, charges(second)) == ("paying", 0)
    for order in (first, second):
        waiting = order.events.last()
        assert (waiting.transition, waiting.detail["waiting"]) == ("", "payment provider unavailable (circuit open)")
    assert breakers.health_check() == (False, "payment: circuit open")
    assert not breakers.allow("payment")

    # The provider is back and the cool-down over: the wake's run is the probe; its answer
    # closes the circuit and the other order goes on.
    payments_time_out.SIMULATOR = {**payments_time_out.SIMULATOR, "PAYMENT_APPROVE_RATE": 1.0}
    ProviderCircuit.objects.filter(provider="payment").update(opened_until=timezone.now() - timedelta(seconds=1))
    assert breakers.circuit("payment", fresh=True).state == breakers.HALF_OPEN
    assert circuit_wake("payment") == first.pk
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.state, second.state) == ("delivered", "delivered")
    assert (charges(first), charges(second)) == (3, 1)
    assert breakers.circuit("payment", fresh=True).state == breakers.CLOSED
    assert breakers.health_check() == (True, "ok")


def test_a_failed_probe_opens_the_circuit_again_and_only_one_caller_probes(payments_time_out):
    version_publish_with({"steps.payment.circuit.failures": 1, "steps.payment.circuit.coolDownSeconds": 30})
    opened_until = breakers.failed("payment", "timeout")
    assert opened_until is not None and not breakers.allow("payment")
    ProviderCircuit.objects.filter(provider="payment").update(opened_until=timezone.now() - timedelta(seconds=1))
    assert breakers.allow("payment") is True  # the probe
    assert breakers.allow("payment") is False  # everyone else waits for its answer
    reopened = breakers.failed("payment", "timeout again")
    assert reopened is not None and reopened > timezone.now() + timedelta(seconds=25)
    assert breakers.circuit("payment", fresh=True).opened_count == 2


def test_a_caller_whose_copy_of_the_circuit_is_stale_goes_on_once_another_probe_closed_it(payments_time_out):
    payments_time_out.PROVIDER_CIRCUIT = {**payments_time_out.PROVIDER_CIRCUIT, "READ_CACHE_SECONDS": 60}
    version_publish_with({"steps.payment.circuit.failures": 1})
    breakers.failed("payment", "timeout")
    ProviderCircuit.objects.filter(provider="payment").update(opened_until=timezone.now() - timedelta(seconds=1))
    assert breakers.circuit("payment").state == breakers.HALF_OPEN  # this process's copy, kept 60 s
    # Another worker process's probe answered and closed it (as DatabaseStore.reset writes it).
    ProviderCircuit.objects.filter(provider="payment").update(failures=0, opened_until=None, probe_until=None)

    assert breakers.allow("payment") is True  # not left waiting for a close that already came


def test_an_answer_resets_the_consecutive_failures(payments_time_out):
    version_publish_with({"steps.payment.circuit.failures": 3})
    breakers.failed("shipping", "timeout")
    breakers.failed("shipping", "timeout")
    assert breakers.succeeded("shipping") is False  # it was closed: nothing to announce
    assert breakers.circuit("shipping", fresh=True).failures == 0
    breakers.failed("shipping", "timeout")
    breakers.failed("shipping", "timeout")
    assert breakers.circuit("shipping", fresh=True).state == breakers.CLOSED


def test_an_order_delayed_before_anything_was_charged_can_be_cancelled_by_its_customer(
        payments_time_out, place_order, customer, jwt_client):
    version_publish_with({"steps.payment.circuit.failures": 100})
    order = place_order(customer, card=CARD_BY_RATES)
    api = jwt_client(customer)
    assert "cancel" in api.get(f"/api/orders/{order.pk}").json()["actions"]
    assert api.post(f"/api/orders/{order.pk}/cancel").status_code == 200
    order.refresh_from_db()
    assert (order.state, order.stock_status) == ("cancelled", "released")


def test_re_drive_needs_the_change_permission_on_the_api(payments_time_out, place_order, customer, jwt_client):
    version_publish_with({"steps.payment.circuit.failures": 100})
    order = place_order(customer, card=CARD_BY_RATES)
    assert jwt_client(customer).post(f"/api/orders/{order.pk}/redrive").status_code in (403, 404)
    order.refresh_from_db()
    assert order.state == "stalled"


def test_the_relay_queues_the_probe_once_the_cool_down_is_over(payments_time_out, place_order, customer):
    from workflows.relay import Relay

    version_publish_with({"steps.payment.circuit.failures": 1})
    order = place_order(customer, card=CARD_BY_RATES)
    order.refresh_from_db()
    assert order.state == "paying" and breakers.circuit("payment", fresh=True).state == breakers.OPEN

    relay = Relay(broker=object())  # sync mode: an enqueued task runs at once
    relay.probe_due_circuits()  # still cooling down: nothing runs
    assert charges(order) == 1

    payments_time_out.SIMULATOR = {**payments_time_out.SIMULATOR, "PAYMENT_APPROVE_RATE": 1.0}
    ProviderCircuit.objects.filter(provider="payment").update(opened_until=timezone.now() - timedelta(seconds=1))
    assert breakers.circuits_due() == ["payment"]
    relay.probe_due_circuits()
    order.refresh_from_db()
    assert (order.state, charges(order)) == ("delivered", 2)
    assert breakers.circuits_due() == [] and breakers.circuit("payment", fresh=True).state == breakers.CLOSED


def test_a_probe_that_finds_its_bulkhead_full_gives_its_claim_back(place_order, customer, settings):
    import threading

    from workflows import executor
    from workflows.pipeline import pipeline_advance

    order = place_order(customer, card=CARD_BY_RATES)
    Order.objects.filter(pk=order.pk).update(state="paying")  # waiting on the payment circuit
    ProviderCircuit.objects.update_or_create(provider="payment", defaults={
        "failures": 5, "opened_until": timezone.now() - timedelta(seconds=1), "probe_until": None})
    breakers._forget("payment")
    settings.PIPELINE = {**settings.PIPELINE, "BULKHEAD_WAIT_SECONDS": 0.01}
    version_publish_with({"steps.payment.bulkhead": 1})
    full = threading.BoundedSemaphore(1)
    full.acquire()  # every place taken by calls still in flight
    executor._bulkheads["payment"] = (1, full)
    try:
        assert pipeline_advance(order.pk) == "paying"  # back to the queue
    finally:
        executor._bulkheads.pop("payment", None)

    assert ProviderCircuit.objects.get(provider="payment").probe_until is None
    assert breakers.circuits_due() == ["payment"]  # the relay queues the probe again at once


def test_the_relay_queues_one_probe_per_cool_down(payments_time_out, place_order, customer, monkeypatch):
    from workflows import outbox
    from workflows.relay import Relay

    version_publish_with({"steps.payment.circuit.failures": 1})
    place_order(customer, card=CARD_BY_RATES)
    ProviderCircuit.objects.filter(provider="payment").update(opened_until=timezone.now() - timedelta(seconds=1))
    queued = []
    monkeypatch.setattr(outbox, "enqueue", lambda func, *args, **kwargs: queued.append((func, args)))

    relay = Relay(broker=object())
    relay.probe_due_circuits()
    relay.probe_due_circuits()  # the workers have not claimed it yet: no second probe
    assert queued == [("workflows.tasks.circuit_wake", ("payment",))]
