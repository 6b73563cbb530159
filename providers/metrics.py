"""The providers' Prometheus metric: `store_gateway_calls_total{gateway,result}`.

Defined here once (a metric is registered once per process); multiprocess mode is set up
by store.metrics, as for every other metric.
"""
from prometheus_client import Counter

GATEWAY_CALLS = Counter(
    "store_gateway_calls_total",
    "Calls to the (simulated) providers, by answer: ok, failed (a business refusal), pending (settled "
    "later by the webhook), timeout, error.",
    ["gateway", "result"],
)


def gateway_called(gateway: str, result: str) -> None:
    GATEWAY_CALLS.labels(gateway=gateway, result=result).inc()
