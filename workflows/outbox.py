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
from django.db import DatabaseError
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

    Each row is taken by deleting it first, so two relays at once (a cluster's relay and the
    sweeper, or two clusters) never queue it twice; a refused row is put back as it was. A
    crash between the delete and the queueing loses that task, which the sweeper makes up for
    (stuck orders, unsent e-mails)."""
    queued = 0
    for task in OutboxTask.objects.all()[:limit]:
        deleted, _ = OutboxTask.objects.filter(pk=task.pk).delete()
        if not deleted:
            continue  # another relay took it
        try:
            _queue(task.func, task.args, task.task_name, task.group)
        except Exception as exc:  # still down: put it back, try again on the next round
            task.attempts += 1
            task.error = f"{exc.__class__.__name__}: {exc}"[:500]
            task.save(force_insert=True)
            break
        queued += 1
    if queued:
        logger.info("queued %s deferred task(s) from the outbox", queued)
    return queued
