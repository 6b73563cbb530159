"""The providers' Prometheus metrics: `store_gateway_calls_total{gateway,result}`, counted by the
providers as they answer, and their circuits (`store_provider_circuit_*{provider}`), read from
the database when /metrics is scraped (ProviderCircuitCollector).

Defined here once (a metric is registered once per process); multiprocess mode is set up
by store.metrics, as for every other metric.
"""
import logging

from django.db import DatabaseError
from prometheus_client import Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from providers import breakers
from store import sandbox

logger = logging.getLogger("providers.metrics")

GATEWAY_CALLS = Counter(
    "store_gateway_calls_total",
    "Calls to the (simulated) providers, by answer: ok, failed (a business refusal), pending (settled "
    "later by the webhook), timeout, error.",
    ["gateway", "result"],
)


def gateway_called(gateway: str, result: str) -> None:
    if sandbox.in_sandbox():  # a dry run's synthetic calls are no provider's health
        return
    GATEWAY_CALLS.labels(gateway=gateway, result=result).inc()


class ProviderCircuitCollector:
    """Each provider's circuit (providers.breakers), one query per scrape:

    - `store_provider_circuit_state{provider}`: 0 closed, 1 half-open, 2 open (breakers.STATE_VALUES);
    - `store_provider_circuit_failures{provider}`: consecutive transient failures now;
    - `store_provider_circuit_opened_total{provider}`: times the circuit opened.

    The shared row is the truth, so every web target reports the same values. When the
    database does not answer, the families are left out of that scrape (and a warning logged).
    """

    def _families(self):
        return (
            GaugeMetricFamily("store_provider_circuit_state",
                              "Provider circuit: 0 closed, 1 half-open, 2 open.", labels=["provider"]),
            GaugeMetricFamily("store_provider_circuit_failures",
                              "Consecutive transient failures (timeouts) of the provider.", labels=["provider"]),
            CounterMetricFamily("store_provider_circuit_opened",
                                "Times the provider's circuit opened.", labels=["provider"]),
        )

    def describe(self):
        # Lets a registry learn the names without running the query at registration.
        return list(self._families())

    def collect(self):
        try:
            views = breakers.circuits()
        except DatabaseError as exc:
            logger.warning("store_provider_circuit_* left out of the scrape: %s", exc.__class__.__name__)
            return
        state, failures, opened = self._families()
        for view in views:
            state.add_metric([view.provider], breakers.STATE_VALUES[view.state])
            failures.add_metric([view.provider], view.failures)
            opened.add_metric([view.provider], view.opened_count)
        yield from (state, failures, opened)


provider_circuits = ProviderCircuitCollector()
