"""The simulated carrier's callbacks: each tracking update it fixed when it made the label is
POSTed, signed with settings.CARRIER_WEBHOOK_SECRET, to SIMULATOR["TRACKING_WEBHOOK_URL"] when it
happens, as a carrier's tracking webhook does (providers.webhooks has the event).

Each is a django-q2 task run at the update's time; unless SIMULATOR["TRACKING_CALLBACKS"] is off
(the tests' default), when the carrier only answers when asked (ShippingProvider.tracking). A
delivery that fails (no answer, a non-2xx status) is tried again with a growing delay, up to
SIMULATOR["TRACKING_WEBHOOK_ATTEMPTS"] times, each with the same event id.
"""
import logging
import time
from dataclasses import asdict

from django.conf import settings

from providers.base import TrackingUpdate
from providers.callbacks import callback_post, callback_queue, delivered, retry_wait
from providers.simulation import setting
from providers.webhooks import TRACKING_UPDATED, CarrierEvent

logger = logging.getLogger("providers.tracking_callbacks")

TASK = "providers.tracking_callbacks.tracking_callback_send"


def tracking_callbacks_schedule(*, order_id: int, tracking_number: str, updates: list[TrackingUpdate]) -> int:
    """Queue one callback per update, each at its `occurred_at`; returns how many (0 when off)."""
    if not setting("TRACKING_CALLBACKS"):
        return 0
    now = time.time()
    for update in updates:
        event = CarrierEvent(id=update.id, type=TRACKING_UPDATED, created=update.occurred_at, order_id=order_id,
                             tracking_number=tracking_number, status=update.status, occurred_at=update.occurred_at,
                             description=update.description, location=update.location)
        _queue(event, attempt=1, delay=update.occurred_at - now)
    return len(updates)


def _queue(event: CarrierEvent, *, attempt: int, delay: float) -> None:
    callback_queue(TASK, asdict(event), attempt=attempt, delay=delay, name=f"tracking-callback-{event.id}-{attempt}",
                   group="tracking-callbacks")


def tracking_callback_send(event: dict, attempt: int = 1) -> int | None:
    """The task: POST `event` (CarrierEvent's fields) to SIMULATOR["TRACKING_WEBHOOK_URL"], signed now.

    Returns the store's HTTP status, or None when it did not answer; a failure (no answer, or
    not 2xx) is logged and tried again after 2^attempt seconds until the attempts run out."""
    carrier_event = CarrierEvent(**event)
    url = setting("TRACKING_WEBHOOK_URL")
    status, error = callback_post(url=url, body=carrier_event.body(), secret=settings.CARRIER_WEBHOOK_SECRET,
                                  agent="store-carrier-simulator", timeout=setting("TRACKING_WEBHOOK_TIMEOUT"))
    if delivered(status):
        logger.info("tracking callback %s (%s) delivered to %s (%s)", carrier_event.id, carrier_event.status, url,
                    status)
        return status
    attempts = setting("TRACKING_WEBHOOK_ATTEMPTS")
    wait = retry_wait(attempt, attempts)
    if wait is None:
        logger.error("tracking callback %s not delivered to %s after %s attempts (%s); giving up",
                     carrier_event.id, url, attempt, error)
        return status
    logger.warning("tracking callback %s not delivered to %s (%s); attempt %s of %s in %s s",
                   carrier_event.id, url, error, attempt + 1, attempts, wait)
    _queue(carrier_event, attempt=attempt + 1, delay=wait)
    return status
