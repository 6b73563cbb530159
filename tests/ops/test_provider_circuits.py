"""The providers' circuits as operations see them: /healthz degraded, the /metrics families."""
import logging
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from providers import breakers
from providers.models import ProviderCircuit
from providers.steps import steps
from store import health, health_checks
from tests.ops.conftest import samples, value
from tests.workflow_versions import version_publish_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def circuit_opens_after_two():
    version_publish_with({f"steps.{step}.circuit.failures": 2 for step in steps()})


def open_circuit(provider: str = "payment") -> None:
    for _ in range(2):
        breakers.failed(provider, "timeout")
    assert breakers.circuit(provider, fresh=True).state == breakers.OPEN


def half_open(provider: str = "payment") -> None:
    ProviderCircuit.objects.filter(provider=provider).update(opened_until=timezone.now() - timedelta(seconds=1))


@pytest.fixture
def worker_up(monkeypatch):
    """A worker cluster reports (/healthz's worker check passes without starting one)."""
    monkeypatch.setattr(health_checks, "check_worker", lambda: (True, "ok"))
    monkeypatch.setattr(health, "_last_problems", {})


# --- /healthz --------------------------------------------------------------------------------

def test_healthz_is_healthy_with_every_circuit_closed(client, worker_up):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "healthy",
                               "checks": {"database": "ok", "broker": "ok", "worker": "ok", "static": "ok",
                                          "migrations": "ok", "providers": "ok"}}


def test_an_open_circuit_makes_healthz_degraded_not_unhealthy(client, worker_up, circuit_opens_after_two, caplog):
    open_circuit("payment")

    with caplog.at_level(logging.INFO, logger="store.health"):
        first, second = client.get("/healthz"), client.get("/healthz")

    assert first.status_code == second.status_code == 200
    assert first.json() == {"status": "degraded", "checks": {"database": "ok", "broker": "ok", "worker": "ok",
                                                             "static": "ok", "migrations": "ok",
                                                             "providers": "payment: circuit open"}}
    warnings = [record for record in caplog.records if record.name == "store.health"]
    assert [record.getMessage() for record in warnings] == ["healthz degraded (providers: payment: circuit open)"]
    assert warnings[0].status_code == 200


def test_a_half_open_circuit_is_named_and_closing_it_is_logged_as_passing(client, worker_up, circuit_opens_after_two,
                                                                          caplog):
    open_circuit("shipping")
    half_open("shipping")

    with caplog.at_level(logging.INFO, logger="store.health"):
        degraded = client.get("/healthz")
        breakers.circuit_close("shipping")
        healthy = client.get("/healthz")

    assert degraded.json()["status"] == "degraded"
    assert degraded.json()["checks"]["providers"] == "shipping: circuit half-open"
    assert healthy.json()["status"] == "healthy"
    assert [record.getMessage() for record in caplog.records if record.name == "store.health"] == [
        "healthz degraded (providers: shipping: circuit half-open)", "healthz passing again"]


def test_a_dependency_failure_wins_over_degraded(client, monkeypatch, circuit_opens_after_two):
    monkeypatch.setattr(health_checks, "check_worker", lambda: (False, "no cluster reporting"))
    monkeypatch.setattr(health, "_last_problems", {})
    open_circuit("payment")

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"
    assert response.json()["checks"]["providers"] == "payment: circuit open"


def test_the_degraded_checks_come_from_the_setting(client, worker_up, settings):
    settings.HEALTH_DEGRADED_CHECKS = {"spare": "tests.ops.test_provider_circuits.spare_check"}

    response = client.get("/healthz")

    assert response.json() == {"status": "degraded", "checks": {"database": "ok", "broker": "ok", "worker": "ok",
                                                                "static": "ok", "migrations": "ok",
                                                                "spare": "spare provider: slow"}}


def spare_check():
    return False, "spare provider: slow"


# --- /metrics -------------------------------------------------------------------------------

def test_metrics_show_each_providers_circuit(client, circuit_opens_after_two):
    open_circuit("payment")
    open_circuit("shipping")
    half_open("shipping")
    breakers.failed("inventory", "timeout")

    body = client.get("/metrics").content.decode()
    scrape = samples(body)

    states = {provider: value(scrape, "store_provider_circuit_state", provider=provider) for provider in steps()}
    assert states == {**dict.fromkeys(steps(), 0), "payment": 2, "shipping": 1}
    assert value(scrape, "store_provider_circuit_failures", provider="inventory") == 1
    assert value(scrape, "store_provider_circuit_failures", provider="payment") == 2
    assert value(scrape, "store_provider_circuit_opened_total", provider="payment") == 1
    assert value(scrape, "store_provider_circuit_opened_total", provider="risk") == 0
    assert {family.name: family.type for family in text_string_to_metric_families(body)
            }["store_provider_circuit_opened"] == "counter"


def test_circuit_metrics_are_one_query(client, django_assert_num_queries):
    from providers.metrics import provider_circuits

    with django_assert_num_queries(1):
        families = list(provider_circuits.collect())
    assert [family.name for family in families] == ["store_provider_circuit_state", "store_provider_circuit_failures",
                                                    "store_provider_circuit_opened"]


def test_circuit_metrics_are_left_out_when_the_database_fails(client, monkeypatch):
    def unreachable():
        raise OperationalError("connection refused")

    monkeypatch.setattr(breakers, "circuits", unreachable)

    body = client.get("/metrics").content.decode()

    assert "store_orders_created_total" in body
    assert "store_provider_circuit_state{" not in body


def test_the_operations_page_lists_the_circuit_metrics():
    from tests.conftest import BASE_DIR

    metrics_table = (BASE_DIR / "docs" / "operations.md").read_text()
    for name in ("store_provider_circuit_state", "store_provider_circuit_failures",
                 "store_provider_circuit_opened_total"):
        assert f"| `{name}` |" in metrics_table, name
