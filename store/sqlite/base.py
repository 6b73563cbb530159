"""SQLite for many writers: one writer at a time across every process, waiting in short steps.

SQLite lets one connection write at a time; the others wait in its busy handler, which
sleeps 1, 2, 5 … up to 100 ms between tries. With a few writers that is fine. A worker
process runs 32 pipeline threads (workflows.executor), and with tens of writers the lock
sits free while its waiters sleep: the threads spend more time waiting for the write lock
than for their providers, and throughput falls as threads are added.

So every writer first takes the store's writer lock: a lock per process (threads queue on
it), then an exclusive `flock` on a file beside the database, tried every 0.05–0.5 ms by
the one thread per process that holds the first (a few processes meet there, not tens of
threads). Both give up after the database's timeout, as SQLite does. It is held from BEGIN
IMMEDIATE to COMMIT or ROLLBACK, or around one write statement in autocommit, exactly when
SQLite's own write lock is held, so it serializes nothing SQLite did not; SQLite's busy
handler stays as the backstop for writers outside the store (the sqlite3 shell).

The backend is django-prometheus' (query metrics) with that lock added; settings choose it
for SQLite.
"""
import fcntl
import os
import threading
import time

from django.db import OperationalError
from django.db.backends.sqlite3.base import SQLiteCursorWrapper
from django_prometheus.db.backends.sqlite3 import base
from django_prometheus.db.common import ExportingCursorWrapper

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class WriterLock:
    """The writer lock of one database file: a thread lock, then `flock` on `<database>.writer-lock`.

    The file is opened once per process (after a fork the child opens its own: an inherited
    descriptor would share the parent's lock)."""

    def __init__(self, database: str, timeout: float) -> None:
        self.path = f"{database}.writer-lock"
        self.timeout = timeout
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def acquire(self) -> None:
        """Wait for the lock, at most `timeout` seconds (the database's), then OperationalError
        as SQLite's own "database is locked"."""
        deadline = time.monotonic() + self.timeout
        if not self._thread_lock.acquire(timeout=self.timeout):
            raise OperationalError("database is locked (no writer lock within the timeout)")
        try:
            if self._pid != os.getpid():
                self._fd, self._pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
            pause = 0.00005
            # The processes' turn: pauses of 0.05–0.5 ms, so the lock changes hands at once; longer
            # pauses leave it free between two processes for a millisecond or two each time, which
            # the pipeline's throughput pays for.
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise OperationalError("database is locked (no writer lock within the timeout)") from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.0005)
        except BaseException:
            self._thread_lock.release()
            raise

    def release(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


_locks: dict[str, WriterLock] = {}
_locks_guard = threading.Lock()


def writer_lock(database: str, timeout: float) -> WriterLock:
    with _locks_guard:
        if database not in _locks:
            _locks[database] = WriterLock(database, timeout)
        return _locks[database]


class WriterLockCursor(SQLiteCursorWrapper):
    """A write outside a transaction (autocommit) takes the writer lock for itself."""

    writer: WriterLock | None = None  # set per connection (DatabaseWrapper.create_cursor)

    def _autocommit_write(self, query: str) -> bool:
        return (self.writer is not None and not self.connection.in_transaction
                and query.lstrip()[:7].upper().startswith(_WRITES))

    def execute(self, query, params=None):
        if not self._autocommit_write(query):
            return super().execute(query, params)
        self.writer.acquire()
        try:
            return super().execute(query, params)
        finally:
            self.writer.release()

    def executemany(self, query, param_list):
        if not self._autocommit_write(query):
            return super().executemany(query, param_list)
        self.writer.acquire()
        try:
            return super().executemany(query, param_list)
        finally:
            self.writer.release()


_cursor_classes: dict[str, type] = {}  # by database alias


class DatabaseFeatures(base.DatabaseFeatures):
    pass


class DatabaseWrapper(base.DatabaseWrapper):
    CURSOR_CLASS = WriterLockCursor
    _holds_writer = False

    @property
    def writer(self) -> WriterLock | None:
        name = str(self.settings_dict["NAME"])
        if self.is_in_memory_db() or not name:
            return None
        return writer_lock(name, float(self.settings_dict.get("OPTIONS", {}).get("timeout", 30)))

    def create_cursor(self, name=None):
        # django-prometheus builds its counting cursor class anew for every cursor: build it once.
        factory = _cursor_classes.get(self.alias)
        if factory is None:
            factory = _cursor_classes[self.alias] = ExportingCursorWrapper(self.CURSOR_CLASS, self.alias, self.vendor)
        cursor = self.connection.cursor(factory=factory)
        cursor.writer = self.writer
        return cursor

    def _start_transaction_under_autocommit(self):
        writer = self.writer
        if writer is not None:
            writer.acquire()
            self._holds_writer = writer
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writer()
            raise

    def _release_writer(self) -> None:
        if self._holds_writer:
            writer, self._holds_writer = self._holds_writer, False
            writer.release()

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_writer()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_writer()

    def _close(self):
        try:
            return super()._close()
        finally:
            self._release_writer()
