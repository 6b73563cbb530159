"""Taking turns: many threads of a process wait on the outside world, one works at a time.

A pipeline run is mostly waiting for providers (workflows.executor runs many at once, each
on a thread), and a little work: transitions, database writes, Python. Run side by side,
that work would fight over the GIL and over SQLite's single write lock, and a thread
holding the write lock while it waits for the GIL holds everyone up. So a run works only
while it holds its process' turn (`turn()`), and gives the turn up while it waits for a
provider (`waiting()`): the waits overlap, the work does not, as in an event loop.

While it waits, a run also hands its database connection back to its process' pool (with
PostgreSQL's pool; store.database), so the connections a worker process needs are the few
its working thread and its tasks use, not one per waiting run.

Outside a turn (a web request, a management command, tests) `waiting()` does nothing.
"""
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction

from store.database import connection_hand_back

_turn = threading.Lock()
_local = threading.local()


@contextmanager
def turn() -> Iterator[None]:
    """Run the block as the process' one working thread (wait for the turn first)."""
    _turn.acquire()
    _local.holding = True
    try:
        yield
    finally:
        _local.holding = False
        _turn.release()


@contextmanager
def waiting() -> Iterator[None]:
    """Inside `turn()`: let other threads work during the block (a wait for a provider), then
    take the turn back. Inside a transaction the turn is kept: the transaction may hold the
    database's write lock, which the next thread to take the turn may need (a refund calls its
    provider inside one), and the two would wait for each other."""
    if not getattr(_local, "holding", False) or transaction.get_connection().in_atomic_block:
        yield
        return
    connection_hand_back()
    _local.holding = False
    _turn.release()
    try:
        yield
    finally:
        _turn.acquire()
        _local.holding = True
