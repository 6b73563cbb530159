"""A dependency that cannot be reached right now: which errors mean it, and how long to wait.

A request or a pipeline run that fails on such an error failed before anything committed (a
transaction that loses its connection is rolled back), so trying again in a moment is safe:
requests answer 503 with Retry-After (store.middleware, store.api.errors), and pipeline runs
go again after a short backoff (workflows.executor). Any other error is a bug and stays a 500.

What counts, by backend:
- PostgreSQL: psycopg's OperationalError (refused or lost connection, "too many clients", the
  server shutting down, no connection from the pool within its timeout, a statement cancelled
  by its timeout), InterfaceError ("the connection is closed") and a write refused by a
  read-only server (a standby), as Django wraps them.
- SQLite: the file cannot be written or read now ("database is locked", "attempt to write a
  readonly database", "disk I/O error", "unable to open database file", "database or disk is
  full"); its other OperationalErrors ("no such table") are bugs or a missing migration.
- Redis (broker, cache): redis-py's ConnectionError and TimeoutError.
"""
import random
import sqlite3

import psycopg
import redis.exceptions
from django.db import DatabaseError, OperationalError
from prometheus_client import Counter

# Whole seconds a client is asked to wait (Retry-After) after a request met a database outage:
# a restart or a failover takes a few seconds.
RETRY_AFTER_SECONDS = 5

UNAVAILABLE = Counter(
    "store_database_unavailable_total",
    "Requests answered 503 and pipeline runs put off because the database (or, for runs, the broker) "
    "could not be reached.",
    ["surface"],  # api, page, pipeline
)

_SQLITE_UNAVAILABLE = ("database is locked", "readonly database", "disk i/o error", "unable to open database file",
                       "database or disk is full", "database table is locked")


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` (or the driver error it wraps) means the database cannot be used right now."""
    cause = exc.__cause__ if isinstance(exc, DatabaseError) and exc.__cause__ else exc  # the driver's error
    if isinstance(cause, psycopg.OperationalError | psycopg.InterfaceError | psycopg.errors.ReadOnlySqlTransaction):
        return True
    if isinstance(cause, sqlite3.OperationalError | OperationalError):  # SQLite, or the store's writer lock (store.sqlite)
        message = str(cause).lower()
        return any(text in message for text in _SQLITE_UNAVAILABLE)
    return False


def unavailable_cause(exc: BaseException) -> BaseException | None:
    """The error in `exc`'s chain (itself, then what it was raised from or while handling:
    __cause__, __context__) that means the database cannot be used right now, else None.

    Django turns some such errors into others: a session that cannot be saved becomes
    SessionInterrupted, answered 400; the chain still holds the DatabaseError."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if database_unavailable(current):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def connection_lost(exc: BaseException) -> bool:
    """True when `exc` means the database or the broker could not be reached (see the module)."""
    return database_unavailable(exc) or isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError)


def retry_delay(attempt: int, *, first: float, longest: float) -> float:
    """Seconds to wait before try `attempt + 1`: first · 2^(attempt-1), at most `longest`, jittered
    ±25% so the runs an outage stopped together do not all come back in the same instant."""
    return min(longest, first * 2 ** (attempt - 1)) * random.uniform(0.75, 1.25)
