"""The store's Prometheus metrics (docs/operations.md: Metrics), recorded by web and worker processes.

Counters and histograms live in each process (in prometheus_client's multiprocess files
when PROMETHEUS_MULTIPROC_DIR is set, see store.metrics). `store_orders{state}` is not
recorded anywhere: OrdersByStateCollector asks the database when /metrics is scraped.
The providers count their calls themselves (providers.metrics).
"""
import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

from orders.models import Order
from orders.selectors import delivery_problem_q
from orders.states import TERMINAL_STATES, WORKING_STATES, OrderState
from store import sandbox
from workflows.models import Hold
from workflows.policy.selectors import policy_current

logger = logging.getLogger("workflows.metrics")

ORDERS_CREATED = Counter("store_orders_created_total", "Orders placed.")
TRANSITIONS = Counter("store_order_transitions_total", "Order state transitions fired.", ["transition"])
STEP_DURATION = Histogram(
    "store_step_duration_seconds",
    "Duration of one pipeline step attempt.",
    ["step", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
STEP_ATTEMPTS = Counter("store_step_attempts_total", "Pipeline step attempts, by outcome: ok, pending (settled later "
                        "by the webhook), failed (a business refusal), timeout.", ["step", "outcome"])
REFUNDS = Counter("store_refunds_total", "Refunds paid out.", ["kind"])
# Summed over the live worker processes: compare with PIPELINE_CONCURRENT_RUNS × Q_WORKERS.
RUNS_IN_FLIGHT = Gauge("store_pipeline_runs_in_flight", "Pipeline runs on the worker processes' threads now.",
                       multiprocess_mode="livesum")


def run_started() -> None:
    RUNS_IN_FLIGHT.inc()


def run_finished() -> None:
    RUNS_IN_FLIGHT.dec()


# A dry run's synthetic orders (store.sandbox) are counted nowhere: the alerts read these.


def order_created() -> None:
    if not sandbox.in_sandbox():
        ORDERS_CREATED.inc()


def transition_fired(name: str) -> None:
    if not sandbox.in_sandbox():
        TRANSITIONS.labels(transition=name).inc()


def step_attempt(step: str, outcome: str, seconds: float) -> None:
    if sandbox.in_sandbox():
        return
    STEP_ATTEMPTS.labels(step=step, outcome=outcome).inc()
    STEP_DURATION.labels(step=step, outcome=outcome).observe(seconds)


def refund_made(*, full: bool) -> None:
    if sandbox.in_sandbox():
        return
    REFUNDS.labels(kind="full" if full else "partial").inc()


class OrdersByStateCollector:
    """`store_orders{state}`: how many orders are in each state now; and
    `store_order_state_oldest_seconds{state, group}`: how long the order longest in each state
    that has not ended has been overdue there (seconds since its last change, `Order.updated_at`,
    as the sweeper reads it; 0 when none). As the sweeper does, it leaves out a charge the bank
    has yet to confirm (it may wait its confirmation timeout) and a parcel the carrier could not
    deliver (listed under Needs attention), and counts a shipped order from the end of its wait for
    the carrier's news (the current workflow version's `tracking.timeoutSeconds`, times
    TRACKING_WAIT_SCALE, then the longest wait between two asks, `tracking.askMaxSeconds`).
    `group` is "working" (the pipeline owes it a step) or
    "waiting" (a person does), so alert rules select by it instead of listing states. One GROUP
    BY per scrape.

    Every state is exported, so a state's series exists before its first order. When the
    database does not answer, both are left out of that scrape (and a warning logged) rather
    than failing the whole scrape.
    """

    name = "store_orders"
    oldest = "store_order_state_oldest_seconds"

    def _families(self):
        return (GaugeMetricFamily(self.name, "Orders by current state.", labels=["state"]),
                GaugeMetricFamily(self.oldest, "Seconds the oldest order in each state that has not ended has "
                                               "been there.", labels=["state", "group"]))

    def describe(self):
        # Lets a registry learn the names without running the query at registration.
        return list(self._families())

    def collect(self):
        try:
            # A delivery problem is in Needs attention already: a person acts on it, nobody is paged.
            overdue = ~Q(state=OrderState.PAYING, charge_pending_since__isnull=False) & ~delivery_problem_q()
            rows = {state: (n, oldest) for state, n, oldest in Order.objects.order_by().values("state")
                    .annotate(n=Count("id"), oldest=Min("updated_at", filter=overdue))
                    .values_list("state", "n", "oldest")}
        except DatabaseError as exc:
            logger.warning("store_orders and store_order_state_oldest_seconds left out of the scrape: %s", exc.__class__.__name__)
            return
        now = timezone.now()
        counts, oldest = self._families()
        for state in OrderState.values:
            n, since = rows.get(state, (0, None))
            counts.add_metric([state], n)
            if state not in TERMINAL_STATES:
                group = "working" if state in WORKING_STATES else "waiting"
                due = since + self._expected_wait(state) if since else None
                oldest.add_metric([state, group], max(0.0, (now - due).total_seconds()) if due else 0.0)
        yield counts
        yield oldest

    @staticmethod
    def _expected_wait(state: str) -> timedelta:
        """How long an order waits in `state` by design before it is overdue."""
        if state == OrderState.SHIPPED:
            current = policy_current()
            return timedelta(seconds=current.tracking_timeout * settings.PIPELINE["TRACKING_WAIT_SCALE"]
                             + current.tracking_ask_max)
        return timedelta(0)


orders_by_state = OrdersByStateCollector()


class HoldsOverdueCollector:
    """`store_holds_overdue`: holds still open past their deadline: their expiry action keeps
    them waiting (remind) and nobody decided yet, or the sweeper that runs the expiry is not
    running. One COUNT per scrape; left out of a scrape the database does not answer."""

    name = "store_holds_overdue"

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(self.name, "Orders held for approval past their hold's deadline.")

    def describe(self):
        return [self._family()]

    def collect(self):
        try:
            overdue = Hold.objects.filter(resolved_at__isnull=True, deadline__lte=timezone.now()).count()
        except DatabaseError as exc:
            logger.warning("store_holds_overdue left out of the scrape: %s", exc.__class__.__name__)
            return
        family = self._family()
        family.add_metric([], overdue)
        yield family


holds_overdue = HoldsOverdueCollector()
