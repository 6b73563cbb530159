"""The order domain's own Prometheus metrics (the pipeline's are in workflows.metrics).

`store_payment_webhook_refused_total{code}`: deliveries to the payment webhook refused before
anything was read, by code (missing_signature, bad_signature: forged or misconfigured;
stale_signature: a genuine signature too old or too far ahead, usually a clock off;
malformed_event; not_found: an order the store does not have). A rising bad_signature count is
someone posting forged events.

`store_tracking_webhook_refused_total{code}`: the same for the carrier's tracking webhook.
"""
from prometheus_client import Counter

WEBHOOK_REFUSED = Counter("store_payment_webhook_refused_total",
                          "Payment webhook deliveries refused, by code.", ["code"])


def webhook_refused(code: str) -> None:
    WEBHOOK_REFUSED.labels(code=code).inc()

TRACKING_WEBHOOK_REFUSED = Counter("store_tracking_webhook_refused_total",
                                   "Carrier tracking webhook deliveries refused, by code.", ["code"])


def tracking_webhook_refused(code: str) -> None:
    TRACKING_WEBHOOK_REFUSED.labels(code=code).inc()
