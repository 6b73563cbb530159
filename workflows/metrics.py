"""The store's Prometheus metrics (docs/operations.md: Metrics), recorded by web and worker processes.

Counters and histograms live in each process (in prometheus_client's multiprocess files
when PROMETHEUS_MULTIPROC_DIR is set, see store.metrics). `store_orders{state}` is not
recorded anywhere: OrdersByStateCollector asks the database when /metrics is scraped.
The providers count their calls themselves (providers.metrics).
"""
import logging

from django.db import DatabaseError
from django.db.models import Count
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

from orders.models import Order
from orders.states import OrderState

logger = logging.getLogger("workflows.metrics")

ORDERS_CREATED = Counter("store_orders_created_total", "Orders placed.")
TRANSITIONS = Counter("store_order_transitions_total", "Order state transitions fired.", ["transition"])
STEP_DURATION = Histogram(
    "store_step_duration_seconds",
    "Duration of one pipeline step attempt.",
    ["step", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
STEP_ATTEMPTS = Counter("store_step_attempts_total", "Pipeline step attempts.", ["step", "outcome"])
REFUNDS = Counter("store_refunds_total", "Refunds paid out.", ["kind"])
# Summed over the live worker processes: compare with PIPELINE_CONCURRENT_RUNS × Q_WORKERS.
RUNS_IN_FLIGHT = Gauge("store_pipeline_runs_in_flight", "Pipeline runs on the worker processes' threads now.",
                       multiprocess_mode="livesum")


def run_started() -> None:
    RUNS_IN_FLIGHT.inc()


def run_finished() -> None:
    RUNS_IN_FLIGHT.dec()


def order_created() -> None:
    ORDERS_CREATED.inc()


def transition_fired(name: str) -> None:
    TRANSITIONS.labels(transition=name).inc()


def step_attempt(step: str, outcome: str, seconds: float) -> None:
    STEP_ATTEMPTS.labels(step=step, outcome=outcome).inc()
    STEP_DURATION.labels(step=step, outcome=outcome).observe(seconds)


def refund_made(*, full: bool) -> None:
    REFUNDS.labels(kind="full" if full else "partial").inc()


class OrdersByStateCollector:
    """`store_orders{state}`: how many orders are in each state now, one GROUP BY per scrape.

    Every state is exported (0 when empty), so a state's series exists before its first order.
    When the database does not answer, the gauge is left out of that scrape (and a warning
    logged) rather than failing the whole scrape.
    """

    name = "store_orders"

    def describe(self):
        # Lets a registry learn the name without running the query at registration.
        return [GaugeMetricFamily(self.name, "Orders by current state.", labels=["state"])]

    def collect(self):
        try:
            counts = dict(Order.objects.order_by().values_list("state").annotate(n=Count("id")))
        except DatabaseError as exc:
            logger.warning("store_orders left out of the scrape: %s", exc.__class__.__name__)
            return
        gauge = GaugeMetricFamily(self.name, "Orders by current state.", labels=["state"])
        for state in OrderState.values:
            gauge.add_metric([state], counts.get(state, 0))
        yield gauge


orders_by_state = OrdersByStateCollector()
