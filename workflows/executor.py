"""Where pipeline runs execute: on a bounded pool of threads in each worker process.

A provider call is a wait (100–500 ms for the seed's providers, up to its timeout when one is
down). Run in the django-q2 task itself, every wait held a whole worker process. In a worker,
`run` hands the run to a thread of this process' pool and returns, so the process takes the
next task while calls are in flight. At most PIPELINE["CONCURRENT_RUNS"] runs per process:
past that, `run` blocks, and the rest of the work waits in the broker, where it is durable.

Nothing is lost when a worker dies mid-wait: each transition commits on its own, so the
database records how far every order got, and the sweeper re-runs orders left in a working
state (PIPELINE["STUCK_AFTER_SECONDS"]); gateway calls carry idempotency keys, so a re-run
never charges or ships twice.

The runs of a process take turns (store.turns): one works (transitions, database writes)
while the others wait for their providers, so the waits overlap without the work fighting
over the GIL and the database's write lock.

Bulkheads: at most the current workflow version's `bulkhead` calls to one provider at once per process,
so a slow provider holds at most that many threads and orders that need another provider go
on (`provider_slot`).

Outside a worker (the web process, tests in django-q2's sync mode, management commands) runs
execute in the caller.

A run that fails because the database or the broker cannot be reached (store.outage: a restart,
"too many clients", a read-only or locked SQLite file) closes its connection and goes again
after 0.5, 1, 2 … seconds (PIPELINE["CONNECTION_RETRY"]), in the same thread: each transition
committed or rolled back whole, so the new run starts where the order is. Only when the tries
are spent is the order left to the sweeper.
"""
import contextlib
import contextvars
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from store import outage, turns
from store.metrics import is_qcluster_command
from workflows import metrics
from workflows.policy.selectors import policy_current

logger = logging.getLogger("workflows.executor")

_pool: ThreadPoolExecutor | None = None
_slots: threading.BoundedSemaphore | None = None
_running: set[int] = set()
_again: set[int] = set()  # asked for again while running: the running thread goes round once more
_lock = threading.Lock()
_bulkheads: dict[str, tuple[int, threading.BoundedSemaphore]] = {}  # provider → (size, its places)
_isolated: contextvars.ContextVar[dict | None] = contextvars.ContextVar("bulkheads_isolated", default=None)


def worker_started(**kwargs) -> None:
    """django-q2's post_spawn (a worker process of `manage.py qcluster` started): give it its pool
    of run threads. (django-q2's sync mode sends the signal too, in the caller's own process,
    which keeps running tasks in place: only a spawned worker has a parent process.)"""
    global _pool, _slots
    size = settings.PIPELINE["CONCURRENT_RUNS"]
    if size > 0 and _pool is None and is_qcluster_command() and multiprocessing.parent_process() is not None:
        _slots = threading.BoundedSemaphore(size)
        _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="pipeline-run")


def run(order_id: int, advance: Callable[[int], object]) -> object:
    """Run `advance(order_id)`: on a pool thread in a worker process (blocking while all
    CONCURRENT_RUNS threads are busy), else here. A run of an order already running in this
    process is not started twice: the running one goes round once more when it is done (the
    order may have moved meanwhile, e.g. staff approved it). Returns what `advance` returned
    when it ran here, else None."""
    if _pool is None:
        return advance_retrying(order_id, advance)
    with _lock:
        if order_id in _running:
            _again.add(order_id)
            return None
        _running.add(order_id)
    _slots.acquire()
    metrics.run_started()
    context = contextvars.copy_context()  # the run's request id and order id, for its log lines
    try:
        _pool.submit(context.run, _run, order_id, advance)
    except RuntimeError:  # the pool is shutting down (the worker is stopping): the sweeper resumes it
        _finished(order_id)
        raise
    return None


def _finished(order_id: int) -> None:
    with _lock:
        _running.discard(order_id)
        _again.discard(order_id)
    _slots.release()
    metrics.run_finished()


def _run(order_id: int, advance: Callable[[int], object]) -> None:
    close_old_connections()  # this thread's connection, as django-q2 does for the task's
    try:
        while True:
            try:
                with turns.turn():  # works in turn with the process' other runs; waits alongside them
                    advance_retrying(order_id, advance)
            except Exception:
                # The order stays in the state it reached; the sweeper runs it again.
                logger.exception("pipeline run of order %s failed", order_id, extra={"order_id": order_id})
            with _lock:  # asked for again meanwhile? (checked and ended under one lock: no request is lost)
                if order_id not in _again:
                    _running.discard(order_id)
                    break
                _again.discard(order_id)
    finally:
        close_old_connections()
        _finished(order_id)


def advance_retrying(order_id: int, advance: Callable[[int], object]) -> object:
    """`advance(order_id)`, again after a backoff each time it fails because the database or the
    broker cannot be reached, at most PIPELINE["CONNECTION_RETRY"][0] more times; then, or on
    any other error, the error propagates. The waits let the process' other runs work."""
    tries, first, longest = settings.PIPELINE["CONNECTION_RETRY"]
    attempt = 0
    while True:
        try:
            return advance(order_id)
        except Exception as exc:
            attempt += 1
            # Inside a caller's transaction nothing can be tried again: the transaction is lost.
            if attempt > tries or not outage.connection_lost(exc) or connection.in_atomic_block:
                raise
            delay = outage.retry_delay(attempt, first=first, longest=longest)
            outage.UNAVAILABLE.labels("pipeline").inc()
            logger.warning("pipeline run of order %s could not reach the database or the broker (%s: %s); "
                           "trying again in %.1f s (%s of %s)", order_id, exc.__class__.__name__, exc, delay,
                           attempt, tries, extra={"order_id": order_id})
            # A broken connection stays broken: the next try opens (or takes from the pool) a new one.
            with contextlib.suppress(DatabaseError):
                connection.close()
            with turns.waiting():
                time.sleep(delay)


@contextmanager
def bulkheads_isolated() -> Iterator[None]:
    """Within the block (this thread or task), the providers' bulkheads are new ones of its own: a
    dry run's calls take no place of the worker's runs."""
    token = _isolated.set({})
    try:
        yield
    finally:
        _isolated.reset(token)


@contextmanager
def provider_slot(provider: str) -> Iterator[bool]:
    """A place in the provider's bulkhead: yields True with one (held until the block ends),
    False when none came free within PIPELINE["BULKHEAD_WAIT_SECONDS"]."""
    size = policy_current().step(provider).bulkhead
    bulkheads = _isolated.get()
    if bulkheads is None:
        bulkheads = _bulkheads
    with _lock:
        sized = bulkheads.get(provider)
        if sized is None or sized[0] != size:  # a new version resized it: later calls share the new one
            sized = bulkheads[provider] = (size, threading.BoundedSemaphore(size))
        bulkhead = sized[1]
    with turns.waiting():  # other runs work while this one waits for a place
        admitted = bulkhead.acquire(timeout=settings.PIPELINE["BULKHEAD_WAIT_SECONDS"])
    try:
        yield admitted
    finally:
        if admitted:
            bulkhead.release()
