"""How the simulated providers call the store back: a signed JSON event POSTed over HTTP by a
django-q2 task, tried again with a growing delay while the store does not answer 2xx, each
time with the same event id (so the store applies it once however often it arrives).

The payment simulator (providers.payment_callbacks) and the carrier's (providers.tracking_callbacks)
both send through here, each with its own URL, secret and number of attempts.
"""
import logging
import urllib.error
import urllib.request
from datetime import timedelta

from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task, schedule

from providers.webhooks import SIGNATURE_HEADER, signature_header

logger = logging.getLogger("providers.callbacks")


def callback_queue(task: str, event: dict, *, attempt: int, delay: float, name: str, group: str) -> None:
    """Run `task(event, attempt)` in `delay` seconds (at once for 0 or less): a queued task, or,
    when later or when the broker refuses it, a one-off schedule (in the database)."""
    args = (event, attempt)
    if delay <= 0:
        try:
            async_task(task, *args, task_name=name, group=group)
            return
        except Exception:  # the broker refused it: the schedule table, in the database, still runs it
            logger.warning("could not queue callback %s; scheduling it instead", name, exc_info=True)
    schedule(task, *args, name=name, schedule_type=Schedule.ONCE,
             next_run=timezone.now() + timedelta(seconds=max(delay, 0)), repeats=-1)


def callback_post(*, url: str, body: bytes, secret: str, agent: str, timeout: float) -> tuple[int | None, str]:
    """POST `body` to `url`, signed now with `secret` (`Store-Signature`); returns the HTTP status
    (None when the store did not answer) and what went wrong ("" for a 2xx)."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", SIGNATURE_HEADER: signature_header(body, secret=secret),
        "User-Agent": agent,
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except OSError as exc:  # URLError, a refused connection, a timeout
        return None, f"{exc.__class__.__name__}: {getattr(exc, 'reason', exc)}"


def delivered(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def retry_wait(attempt: int, attempts: int) -> int | None:
    """Seconds before attempt `attempt` + 1 (2^attempt), or None once `attempts` are spent."""
    return None if attempt >= attempts else 2 ** attempt
