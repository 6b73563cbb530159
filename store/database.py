"""Database connections bounded per process: PostgreSQL through Django's psycopg pool.

Each process has its own pool (settings DATABASES, `OPTIONS["pool"]`: docs/operations.md says
how big, and how many connections a deployment needs). A thread holds a connection from its
first query until Django closes it (the end of a request; the end of a pipeline run), and a
pipeline run also hands it back while it waits for a provider (`connection_hand_back`, from
store.turns), so a worker's many waiting runs share a few connections.

A connection must not cross a fork: a forked child (django-q2's sentinel and task processes,
forked after the parent used the database) would share the parent's sockets. `forget_in_child`
runs in every forked child and leaves the inherited pools and the forking thread's connections
alone, never closing them (closing would end the parent's sessions); the child opens its own
on its first query.
"""
import os

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper

# What the children inherited, kept referenced so garbage collection never closes the
# parent's connections through them.
_inherited: list[dict] = []


def forget_in_child() -> None:
    """os.register_at_fork(after_in_child=...): this process opens connections and pools of its own."""
    if PostgresWrapper._connection_pools:
        _inherited.append(dict(PostgresWrapper._connection_pools))
        PostgresWrapper._connection_pools.clear()
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and connection.vendor == "postgresql":
            _inherited.append(connection.connection)
            connection.connection = None


def forget_on_fork() -> None:
    """Register `forget_in_child` for every later fork of this process (once, at start-up)."""
    os.register_at_fork(after_in_child=forget_in_child)


def connection_hand_back(alias: str = DEFAULT_DB_ALIAS) -> None:
    """Give this thread's pooled connection back to the pool, to take one again at its next query;
    nothing without a pool, without a connection, or inside a transaction (which holds it)."""
    connection = connections[alias]
    if connection.connection is None or connection.in_atomic_block or getattr(connection, "pool", None) is None:
        return
    connection.close()
