"""Webhook metrics (docs/operations.md: Metrics): attempts by outcome, counted where they are
made, and the age of the oldest row still to deliver, read from the database at scrape time."""
import logging

from django.db import DatabaseError
from django.db.models import Min
from django.utils import timezone
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from webhooks.models import WebhookDelivery

logger = logging.getLogger("webhooks.metrics")

DELIVERIES = Counter("store_webhook_deliveries_total", "Webhook delivery attempts, by outcome: delivered, retrying "
                     "(failed, tried again later), given_up (failed past WEBHOOK_RETRY_HOURS).", ["outcome"])
for _outcome in ("delivered", "retrying", "given_up"):
    DELIVERIES.labels(outcome=_outcome)


def delivery_counted(outcome: str) -> None:
    DELIVERIES.labels(outcome=outcome).inc()


class OldestUndeliveredCollector:
    """`store_webhook_oldest_undelivered_seconds`: how long the oldest row still to deliver has
    waited since its event (0 when none), a disabled endpoint's backlog included, so disabling an
    endpoint does not hide it. One query per scrape; left out of a scrape the database does not
    answer."""

    name = "store_webhook_oldest_undelivered_seconds"

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(self.name, "Seconds the oldest undelivered webhook row has waited "
                                            "(disabled endpoints' too).")

    def describe(self):
        return [self._family()]

    def collect(self):
        try:
            oldest = (WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
                      .aggregate(oldest=Min("created_at"))["oldest"])
        except DatabaseError as exc:
            logger.warning("%s left out of the scrape: %s", self.name, exc.__class__.__name__)
            return
        family = self._family()
        family.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0.0)
        yield family


oldest_undelivered = OldestUndeliveredCollector()
