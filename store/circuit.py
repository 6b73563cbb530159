"""A circuit breaker for Redis in this process: after a failed call, stop calling for a while.

A Redis that hangs (or is gone) costs every call its timeout (REDIS_TIMEOUT). Requests make
several calls each (a rate limit, a queued task), so without a breaker a hang holds every
gunicorn thread and even /livez waits. After a connection error or a timeout the circuit is
open for REDIS_CIRCUIT_SECONDS: callers get `CircuitOpen` (a redis ConnectionError, which they
already handle: limits fail open, tasks go to the outbox) at once. Then one call, the probe,
is let through (half-open): its success closes the circuit, its failure opens it again.

Per process on purpose: it guards this process' threads, and needs nothing shared to work
while the shared things are down.
"""
import threading
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# What opens the circuit: Redis could not be reached or did not answer in time.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)


class CircuitOpen(RedisConnectionError):
    """Not called: the circuit is open after a recent failure."""


class CircuitBreaker:
    """closed → (failure) → open for `open_seconds` → one probe (half-open) → closed or open."""

    def __init__(self, name: str, open_seconds: float) -> None:
        self.name = name
        self.open_seconds = open_seconds
        self._lock = threading.Lock()
        self._open_until = 0.0  # monotonic seconds; 0 when closed
        self._probing = False

    @property
    def is_open(self) -> bool:
        return self._open_until > 0

    def allow(self) -> bool:
        """May this call go to the dependency? (closed; or the one probe once the wait is over)"""
        with self._lock:
            if not self._open_until:
                return True
            if self._probing or time.monotonic() < self._open_until:
                return False
            self._probing = True
            return True

    def succeeded(self) -> None:
        with self._lock:
            self._open_until, self._probing = 0.0, False

    def failed(self) -> None:
        with self._lock:
            self._open_until, self._probing = time.monotonic() + self.open_seconds, False

    def call(self, function, *args, **kwargs):
        """function(*args, **kwargs) through the breaker; CircuitOpen while it is open."""
        if not self.allow():
            raise CircuitOpen(f"{self.name} circuit open after a recent failure")
        try:
            result = function(*args, **kwargs)
        except REDIS_DOWN:
            self.failed()
            raise
        except BaseException:
            self.succeeded()  # it answered (with an error of another kind)
            raise
        self.succeeded()
        return result


_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def redis_breaker() -> CircuitBreaker:
    """This process' breaker for Redis (the cache and the broker share the server)."""
    from django.conf import settings

    with _breakers_lock:
        if "redis" not in _breakers:
            _breakers["redis"] = CircuitBreaker("redis", settings.REDIS_CIRCUIT_SECONDS)
        return _breakers["redis"]
