"""PostgreSQL with a pool that reconnects within a second of a restart.

Django's "pool" option builds psycopg's ConnectionPool. When the server goes away, that pool
tries to connect again after 1, 2, 4, 8 … s, and a thread waiting for a connection waits for
those tries: after a restart of 2 s its next try may come 4 s later, while orders and requests
wait (measured by `make drill db-outage`). This pool tries every RECONNECT_DELAY_SECONDS (a
connection attempt to a server that is down is refused at once, so the tries cost little).

Checkout checks each pooled connection (`check`, with CONN_HEALTH_CHECKS). psycopg_pool's own
checkout sleeps 1, 2, 4 s between failed checks, so once the server has ended every session (a
restart, an administrator's pg_terminate_backend) a thread meeting three dead idle connections
would pass the pool's timeout while the database is healthy. This pool discards a dead
connection and checks the next idle one at once, and waits RECONNECT_DELAY_SECONDS only when
none is left idle.

The backend is django-prometheus' (query metrics) with that pool; settings choose it for
PostgreSQL. Everything else is Django's own pool handling (store/database.py says how the
pool is sized and kept per process).
"""
from time import monotonic, sleep

from django.core.exceptions import ImproperlyConfigured
from django.db.backends.base.base import NO_DB_ALIAS
from django_prometheus.db.backends.postgresql import base
from psycopg_pool import ConnectionPool, PoolTimeout
from psycopg_pool.base import AttemptWithBackoff

RECONNECT_DELAY_SECONDS = 0.25


class SteadyAttempt(AttemptWithBackoff):
    """psycopg_pool's reconnection schedule without its backoff: a try every RECONNECT_DELAY_SECONDS,
    until the pool's reconnect_timeout."""

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, RECONNECT_DELAY_SECONDS)


class SteadyPool(ConnectionPool):
    def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        super()._add_connection(attempt or SteadyAttempt(timeout=self.reconnect_timeout), growing=growing)

    def _getconn_with_check_loop(self, deadline: float):
        """psycopg_pool's checkout (getconn until `deadline`, monotonic s; PoolTimeout after it) without
        its backoff between failed checks: a connection that fails the check is discarded (the pool
        opens a replacement) and the next idle one is checked at once; with none idle, the thread
        waits up to RECONNECT_DELAY_SECONDS, then queues for the replacement."""
        while True:
            conn = self._getconn_unchecked(deadline - monotonic())
            try:
                self._check_connection(conn)
            except BaseException as error:
                self._putconn(conn, from_getconn=True)
                if not isinstance(error, Exception):  # cancellation: give the connection back, stop
                    raise
            else:
                return conn
            remaining = deadline - monotonic()
            if remaining <= 0:
                raise PoolTimeout()
            if not self._pool:
                sleep(min(RECONNECT_DELAY_SECONDS, remaining))


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        """Django's pool property (django.db.backends.postgresql.base), building a SteadyPool."""
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not pool_options:
            return None
        if self.alias not in self._connection_pools:
            if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
                raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
            connect_kwargs = self.get_connection_params()
            connect_kwargs["autocommit"] = True  # Django sets the connection's mode itself later
            pool = SteadyPool(
                kwargs=connect_kwargs,
                open=False,  # opened on the first connection, as Django's
                configure=self._configure_connection,
                check=ConnectionPool.check_connection if self.settings_dict["CONN_HEALTH_CHECKS"] else None,
                **({} if pool_options is True else pool_options),
            )
            self._connection_pools.setdefault(self.alias, pool)
        return self._connection_pools[self.alias]
