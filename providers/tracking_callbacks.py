"""The simulated carrier's callbacks: each tracking update it fixed when it made the label is
POSTed, signed with settings.CARRIER_WEBHOOK_SECRET, to SIMULATOR["TRACKING_WEBHOOK_URL"] when it
happens, as a carrier's tracking webhook does (providers.webhooks has the event).

Each is a django-q2 task run at the update's time, one after the other: the task that sent an
update queues the next, so they arrive in the order they happened; unless
SIMULATOR["TRACKING_CALLBACKS"] is off (the tests' default), when the carrier only answers when
asked (ShippingProvider.tracking). A delivery that fails (no answer, a non-2xx status) is tried
again with a growing delay, up to SIMULATOR["TRACKING_WEBHOOK_ATTEMPTS"] times, each with the
same event id, before the next update goes.
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
    """Queue the callbacks of a parcel's updates (oldest first, each at its `occurred_at`); returns
    how many will be sent (0 when callbacks are off)."""
    if not setting("TRACKING_CALLBACKS") or not updates:
        return 0
    events = [asdict(CarrierEvent(id=update.id, type=TRACKING_UPDATED, created=update.occurred_at, order_id=order_id,
                                  tracking_number=tracking_number, status=update.status,
                                  occurred_at=update.occurred_at, description=update.description,
                                  location=update.location))
              for update in sorted(updates, key=lambda update: update.occurred_at)]
    _queue(events, attempt=1)
    return len(events)


def _queue(events: list[dict], *, attempt: int, delay: float | None = None) -> None:
    """Send events[0] in `delay` seconds (default: at its occurred_at); the rest follow it."""
    first = events[0]
    wait = first["occurred_at"] - time.time() if delay is None else delay
    callback_queue(TASK, events, attempt=attempt, delay=wait, name=f"tracking-callback-{first['id']}-{attempt}",
                   group="tracking-callbacks")


def tracking_callback_send(events: list[dict], attempt: int = 1) -> int | None:
    """The task: POST events[0] (CarrierEvent's fields) to SIMULATOR["TRACKING_WEBHOOK_URL"], signed
    now, then queue events[1:].

    Returns the store's HTTP status, or None when it did not answer; a failure (no answer, or
    not 2xx) is logged and tried again after 2^attempt seconds until the attempts run out."""
    carrier_event, later = CarrierEvent(**events[0]), events[1:]
    url = setting("TRACKING_WEBHOOK_URL")
    status, error = callback_post(url=url, body=carrier_event.body(), secret=settings.CARRIER_WEBHOOK_SECRET,
                                  agent="store-carrier-simulator", timeout=setting("TRACKING_WEBHOOK_TIMEOUT"))
    if delivered(status):
        logger.info("tracking callback %s (%s) delivered to %s (%s)", carrier_event.id, carrier_event.status, url,
                    status)
    else:
        attempts = setting("TRACKING_WEBHOOK_ATTEMPTS")
        wait = retry_wait(attempt, attempts)
        if wait is not None:
            logger.warning("tracking callback %s not delivered to %s (%s); attempt %s of %s in %s s",
                           carrier_event.id, url, error, attempt + 1, attempts, wait)
            _queue(events, attempt=attempt + 1, delay=wait)
            return status
        logger.error("tracking callback %s not delivered to %s after %s attempts (%s); giving up",
                     carrier_event.id, url, attempt, error)
    if later:
        _queue(later, attempt=1)
    return status
