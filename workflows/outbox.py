"""Tasks queued after a commit survive a broker outage: what the broker refuses waits in the database.

`enqueue` queues a django-q2 task; when the broker cannot take it (Redis down, hanging past
REDIS_TIMEOUT, or known to be down by this process' circuit breaker), the task is written to
`OutboxTask` instead and logged once, and the caller goes on: the change it follows has
committed and is answered as a success. `outbox_relay` queues the rows again, oldest first; the worker cluster's
main process runs it every OUTBOX_RELAY_SECONDS (`workflows.relay`), and the sweeper on each
sweep, so deferred work starts within about a second of the broker's return.
"""
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F
from django_q.tasks import async_task

from store.circuit import redis_breaker
from workflows.models import OutboxTask

logger = logging.getLogger("workflows.outbox")
# A sandbox whose writes are rolled back (a dry run): the tasks it would queue are dropped.
_dropped: ContextVar[bool] = ContextVar("outbox_tasks_dropped", default=False)


@contextmanager
def tasks_dropped() -> Iterator[None]:
    """Within the block (this thread or task), `enqueue` queues nothing and answers True."""
    token = _dropped.set(True)
    try:
        yield
    finally:
        _dropped.reset(token)


def _queue(func: str, args: list, task_name: str, group: str) -> None:
    async_task(func, *args, task_name=task_name, group=group, save=False, sync=settings.PIPELINE_TASKS_SYNC)


def enqueue(func: str, *args, task_name: str = "", group: str = "", must_keep: bool = False) -> bool:
    """Queue task `func(*args)` (JSON-serializable args); True when the broker took it now,
    False when it waits in the outbox (or, with the database down as well, only in the log:
    the sweeper finds stuck orders by their state).

    `must_keep`: nothing else would make up for a task lost that way (a password-reset e-mail),
    so the outbox's DatabaseError is raised instead: the request answers 503 "try again"
    (store.outage) rather than saying it was done."""
    if _dropped.get():
        return True
    try:
        # Through the Redis breaker: while Redis is known to be down, straight to the outbox.
        redis_breaker().call(_queue, func, list(args), task_name, group)
        return True
    except Exception as exc:  # any broker failure: the committed change must stand
        error = f"{exc.__class__.__name__}: {exc}"[:500]
    try:
        OutboxTask.objects.create(func=func, args=list(args), task_name=task_name, group=group, error=error)
    except DatabaseError:
        if must_keep:
            raise
        logger.exception("could not queue %s nor keep it in the outbox (%s)", task_name or func, error)
        return False
    logger.warning("broker refused %s; kept in the outbox until it is back (%s)", task_name or func, error)
    return False


def outbox_relay(*, limit: int = 500) -> int:
    """Queue the outbox's tasks, oldest first; stops at the first refusal (the broker is still
    down). Returns how many were queued.

    Each row is queued while its lock is held (`_relay_one`): a second relay at once (a
    cluster's relay and the sweeper, or two clusters) waits for that row rather than passing
    it, and then finds it gone (queued once) or back in the outbox when the first relay's broker
    refused it, which it queues itself if its broker takes it."""
    queued = 0
    for pk in list(OutboxTask.objects.values_list("pk", flat=True)[:limit]):
        outcome = _relay_one(pk)
        if outcome is False:
            break
        queued += bool(outcome)
    if queued:
        logger.info("queued %s deferred task(s) from the outbox", queued)
    return queued


def _relay_one(pk: int) -> bool | None:
    """Queue outbox row `pk` and delete it, in one transaction holding the row's lock: True when
    queued, None when another relay already did, False when the broker refused it (the row
    stays, its attempts and error updated).

    On the ORM broker the queueing commits with the delete; on Redis a database failure between
    the broker taking the task and the commit leaves the row, queued again on the next round
    (the tasks tolerate a second run: a pipeline run and an e-mail each claim their work)."""
    with transaction.atomic():
        task = OutboxTask.objects.select_for_update().filter(pk=pk).first()
        if task is None:
            return None
        if settings.PIPELINE_TASKS_SYNC:
            # The task runs here and now, and must not run inside this transaction: take the row first.
            task.delete()
        else:
            try:
                with transaction.atomic():  # a failed ORM broker's insert leaves the row's transaction usable
                    _queue(task.func, task.args, task.task_name, task.group)
            except Exception as exc:  # still down: kept, tried again on the next round
                error = f"{exc.__class__.__name__}: {exc}"[:500]
                OutboxTask.objects.filter(pk=pk).update(attempts=F("attempts") + 1, error=error)
                logger.warning("broker refused %s again; kept in the outbox for the next round (%s)",
                               task.task_name or task.func, error)
                return False
            task.delete()
            return True
    try:
        _queue(task.func, task.args, task.task_name, task.group)
    except Exception as exc:  # not the broker's refusal (none runs here), but the row must not be lost
        task.attempts += 1
        task.error = f"{exc.__class__.__name__}: {exc}"[:500]
        task.save(force_insert=True)
        return False
    return True
