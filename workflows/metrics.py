"""The store's Prometheus metrics (DESIGN §7), recorded by web and worker processes."""
from prometheus_client import Counter, Histogram

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


def order_created() -> None:
    ORDERS_CREATED.inc()


def transition_fired(name: str) -> None:
    TRANSITIONS.labels(transition=name).inc()


def step_attempt(step: str, outcome: str, seconds: float) -> None:
    STEP_ATTEMPTS.labels(step=step, outcome=outcome).inc()
    STEP_DURATION.labels(step=step, outcome=outcome).observe(seconds)


def refund_made(*, full: bool) -> None:
    REFUNDS.labels(kind="full" if full else "partial").inc()
