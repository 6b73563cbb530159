"""The simulated payment provider's callbacks: a charge it answered "pending" is confirmed (or
declined) later by a signed event POSTed over HTTP to the store's webhook, as a bank does after
3-D Secure or a transfer (providers.webhooks has the event and its signature).

The callback is a django-q2 task run SIMULATOR["PAYMENT_CONFIRM_DELAY_SECONDS"] after the charge
(at once for 0; never for a negative delay, which leaves the order to time out). A delivery
that fails (no answer, a non-2xx status) is tried again with a growing delay, up to
SIMULATOR["PAYMENT_WEBHOOK_ATTEMPTS"] times, each with the same event id, so the store applies
it once however often it arrives.
"""
import logging
import secrets
import time
from dataclasses import asdict

from django.conf import settings

from providers.callbacks import callback_post, callback_queue, delivered, retry_wait
from providers.declines import Decline
from providers.simulation import setting
from providers.webhooks import APPROVED, DECLINED, PaymentEvent

logger = logging.getLogger("providers.payment_callbacks")

TASK = "providers.payment_callbacks.payment_callback_send"


def payment_callback_schedule(*, order_id: int, key: str, reference: str,
                              decline: Decline | None = None) -> PaymentEvent | None:
    """Queue the callback that settles pending charge `key`: approved with `reference`, or, with
    `decline`, declined with its code and advice. Returns the event it will send, or None when
    callbacks are off (a negative delay)."""
    delay = setting("PAYMENT_CONFIRM_DELAY_SECONDS")
    if delay < 0:
        return None
    event = PaymentEvent(id=f"evt_{secrets.token_hex(12)}", type=DECLINED if decline else APPROVED,
                         created=int(time.time()), order_id=order_id, key=key, reference=reference,
                         reason=decline.advice if decline else "", code=decline.code if decline else "")
    _queue(event, attempt=1, delay=delay)
    return event


def _queue(event: PaymentEvent, *, attempt: int, delay: float) -> None:
    callback_queue(TASK, asdict(event), attempt=attempt, delay=delay, name=f"payment-callback-{event.id}-{attempt}",
                   group="payment-callbacks")


def payment_callback_send(event: dict, attempt: int = 1) -> int | None:
    """The task: POST `event` (PaymentEvent's fields) to SIMULATOR["PAYMENT_WEBHOOK_URL"], signed now.

    Returns the store's HTTP status, or None when it did not answer; a failure (no answer, or
    not 2xx) is logged and tried again after 2^attempt seconds until the attempts run out."""
    payment_event = PaymentEvent(**event)
    url = setting("PAYMENT_WEBHOOK_URL")
    status, error = callback_post(url=url, body=payment_event.body(), secret=settings.PAYMENT_WEBHOOK_SECRET,
                                  agent="store-payment-simulator", timeout=setting("PAYMENT_WEBHOOK_TIMEOUT"))
    if delivered(status):
        logger.info("payment callback %s delivered to %s (%s)", payment_event.id, url, status)
        return status
    attempts = setting("PAYMENT_WEBHOOK_ATTEMPTS")
    wait = retry_wait(attempt, attempts)
    if wait is None:
        logger.error("payment callback %s not delivered to %s after %s attempts (%s); giving up",
                     payment_event.id, url, attempt, error)
        return status
    logger.warning("payment callback %s not delivered to %s (%s); attempt %s of %s in %s s",
                   payment_event.id, url, error, attempt + 1, attempts, wait)
    _queue(payment_event, attempt=attempt + 1, delay=wait)
    return status
