"""A dry run's sandbox (workflows.policy.dryrun): work that is rolled back and must leave no trace.

Within `sandboxed()` (this thread or task):
- nothing sleeps: `wait(seconds)` (a simulated provider's latency or timeout, a backoff between
  attempts) adds the seconds to the sandbox's clock instead, and `clock()` reads wall time plus
  them, so a call's recorded latency is what the policy would have waited, computed, not slept.
  A dry run therefore holds a transaction (SQLite's write lock) for its database work only,
  whatever the providers do;
- metrics are not counted (`in_sandbox()`: the helpers of providers.metrics, orders.metrics and
  workflows.metrics check it), so alerts never read a synthetic order's calls;
- log lines are marked "[dry run]" (store.logging), since a rolled-back order's id is reused.
"""
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_waited: ContextVar[list[float] | None] = ContextVar("sandbox_waited", default=None)


@contextmanager
def sandboxed() -> Iterator[None]:
    token = _waited.set([0.0])
    try:
        yield
    finally:
        _waited.reset(token)


def in_sandbox() -> bool:
    return _waited.get() is not None


def wait(seconds: float) -> None:
    """Sleep `seconds`; in a sandbox, count them on its clock instead."""
    box = _waited.get()
    if box is None:
        time.sleep(seconds)
    else:
        box[0] += max(0.0, seconds)


def clock() -> float:
    """time.monotonic(), plus the seconds the sandbox has counted instead of sleeping."""
    box = _waited.get()
    return time.monotonic() + (box[0] if box is not None else 0.0)
