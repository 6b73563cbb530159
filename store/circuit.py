"""The circuit breaker: after failures of a dependency, stop calling it for a while, then probe.

closed → (the `failures`-th consecutive failure) → open for `cool_down` seconds → half-open: one
caller, the probe, may call (its claim lasts `probe` seconds) → its answer closes the circuit,
its failure opens it again. Callers that may not call get their refusal at once, instead of
each paying the dependency's timeout.

One implementation, `CircuitBreaker`, keeps its state in a store of one of two kinds:

- `MemoryStore`, per process: Redis' breaker (`redis_breaker`). A Redis that hangs (or is
  gone) costs every call its timeout (REDIS_TIMEOUT), and requests make several calls each (a
  rate limit, a queued task), so without a breaker a hang holds every gunicorn thread and even
  /livez waits. It opens at the first connection error or timeout, for REDIS_CIRCUIT_SECONDS;
  callers get `CircuitOpen` (a redis ConnectionError, which they already handle: limits fail
  open, tasks go to the outbox). Per process on purpose: it guards this process' threads and
  needs nothing shared to work while the shared things are down.
- a store shared through the database, for the pipeline's providers (providers.breakers),
  so every worker process sees the same circuit.
"""
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"
# The gauge's values (store_provider_circuit_state).
STATE_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


@dataclass
class CircuitRecord:
    """A circuit's state as a store keeps it. Times are on the store's clock (`CircuitStore.now`):
    `opened_until` the end of the cool-down (None: closed), `probe_until` the end of the probe's
    claim (None: unclaimed)."""

    failures: int = 0
    opened_until: Any = None
    probe_until: Any = None
    opened_count: int = 0
    last_failure: str = ""

    def state(self, now) -> str:
        if self.opened_until is None:
            return CLOSED
        return OPEN if now < self.opened_until else HALF_OPEN

    def probe_claimable(self, now) -> bool:
        """Half-open, and no caller holds the probe."""
        return self.opened_until is not None and self.opened_until <= now and (
            self.probe_until is None or self.probe_until < now)

    def fail(self, now, until, reason: str, *, failures: int) -> bool:
        """Count a failure; open the circuit until `until` when it is the `failures`-th in a row of a
        closed circuit, or the probe's (half-open). True when this failure opened it."""
        self.failures += 1
        self.last_failure = reason[:200]
        opens = self.failures >= failures if self.opened_until is None else self.opened_until <= now
        if opens:
            self.opened_until, self.probe_until = until, None
            self.opened_count += 1
        return opens


@dataclass(frozen=True)
class CircuitView:
    """A circuit as read: `state` closed, half_open or open; `opened_until` the end of the cool-down
    (None when closed); `failures` consecutive failures."""

    provider: str
    state: str
    failures: int
    opened_until: datetime | float | None
    opened_count: int
    last_failure: str

    @classmethod
    def of(cls, name: str, record: CircuitRecord, now) -> "CircuitView":
        return cls(name, record.state(now), record.failures, record.opened_until, record.opened_count,
                   record.last_failure)


class CircuitStore(Protocol):
    """Where circuits keep their state; each change is atomic among the store's users."""

    def now(self) -> Any: ...

    def later(self, now, seconds: float) -> Any: ...

    def read(self, name: str, *, fresh: bool = False) -> CircuitRecord: ...

    def change(self, name: str, apply: Callable[[CircuitRecord], bool]) -> tuple[CircuitRecord, bool]:
        """Run `apply` on the circuit's record under the store's lock, save it, return it and `apply`'s answer."""

    def claim_probe(self, name: str, now, until) -> bool:
        """Take the probe until `until` if `CircuitRecord.probe_claimable` (True when taken)."""

    def release_probe(self, name: str, now) -> bool:
        """Give back a claimed probe of a half-open circuit (True when one was released)."""

    def reset(self, name: str) -> bool:
        """Close the circuit and forget its failures (True when that changed something)."""


@dataclass(frozen=True)
class CircuitPolicy:
    """`failures` in a row open the circuit for `cool_down` seconds; the probe's claim lasts `probe` seconds."""

    failures: int
    cool_down: float
    probe: float = math.inf


class CircuitBreaker:
    """One dependency's circuit, kept in `store` under `name`; `policy()` gives its current limits.
    With a `logger`, the probe, the opening and the closing are logged (with `extra` provider)."""

    def __init__(self, name: str, store: CircuitStore, policy: Callable[[], CircuitPolicy],
                 logger: logging.Logger | None = None) -> None:
        self.name = name
        self.store = store
        self.policy = policy
        self.logger = logger

    def view(self, *, fresh: bool = False) -> CircuitView:
        """The circuit as the store has it (a store may answer from a short-lived cache unless `fresh`)."""
        return CircuitView.of(self.name, self.store.read(self.name, fresh=fresh), self.store.now())

    @property
    def is_open(self) -> bool:
        return self.view().state != CLOSED

    def allow(self) -> bool:
        """May a call go to the dependency now? Closed: yes. Open: no. Half-open: yes for exactly one
        caller among the store's users (the probe), no for the others."""
        view = self.view()
        if view.state == CLOSED:
            return True
        now = self.store.now()
        if view.state == OPEN and now < view.opened_until:
            return False
        claimed = self.store.claim_probe(self.name, now, self.store.later(now, self.policy().probe))
        if not claimed and self.view(fresh=True).state == CLOSED:
            return True  # another caller's probe closed it since this process last read it
        if claimed and self.logger:
            self.logger.info("%s circuit half-open: probing", self.name, extra={"provider": self.name})
        return claimed

    def probe_release(self) -> bool:
        """The caller claimed the probe but made no call: give the claim back, so the next caller
        probes now. True when a claim was released."""
        return self.store.release_probe(self.name, self.store.now())

    def succeeded(self) -> bool:
        """The dependency answered: forget its failures and close the circuit. True when this closed it."""
        view = self.view()
        if view.state == CLOSED and view.failures == 0:
            return False
        closed = self.store.reset(self.name) and view.state != CLOSED
        if closed and self.logger:
            self.logger.warning("%s circuit closed: the provider answers again", self.name,
                                extra={"provider": self.name})
        return closed

    def failed(self, reason: str = "") -> Any:
        """A failure of the dependency. Returns the end of the cool-down when it opened the circuit, else None."""
        policy = self.policy()
        now = self.store.now()
        until = self.store.later(now, policy.cool_down)
        record, opened = self.store.change(
            self.name, lambda record: record.fail(now, until, reason, failures=policy.failures))
        if not opened:
            return None
        if self.logger:
            self.logger.warning("%s circuit open for %ss after %s consecutive failures (%s)", self.name,
                                policy.cool_down, record.failures, record.last_failure,
                                extra={"provider": self.name, "failures": record.failures})
        return record.opened_until

    def close(self) -> bool:
        """Close the circuit by hand. True when it was not closed."""
        return self.store.reset(self.name)


class MemoryStore:
    """Circuits kept in this process, on the monotonic clock."""

    def __init__(self) -> None:
        self._records: dict[str, CircuitRecord] = {}
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.monotonic()

    def later(self, now: float, seconds: float) -> float:
        return now + seconds

    def _record(self, name: str) -> CircuitRecord:
        return self._records.setdefault(name, CircuitRecord())

    def read(self, name: str, *, fresh: bool = False) -> CircuitRecord:
        with self._lock:
            record = self._record(name)
            return CircuitRecord(record.failures, record.opened_until, record.probe_until, record.opened_count,
                                 record.last_failure)

    def change(self, name: str, apply: Callable[[CircuitRecord], bool]) -> tuple[CircuitRecord, bool]:
        with self._lock:
            record = self._record(name)
            return record, apply(record)

    def claim_probe(self, name: str, now: float, until: float) -> bool:
        with self._lock:
            record = self._record(name)
            if not record.probe_claimable(now):
                return False
            record.probe_until = until
            return True

    def release_probe(self, name: str, now: float) -> bool:
        with self._lock:
            record = self._record(name)
            if record.opened_until is None or record.opened_until > now or record.probe_until is None:
                return False
            record.probe_until = None
            return True

    def reset(self, name: str) -> bool:
        with self._lock:
            record = self._record(name)
            if not record.failures and record.opened_until is None:
                return False
            record.failures, record.opened_until, record.probe_until = 0, None, None
            return True


# --- Redis' breaker --------------------------------------------------------------------------

# What opens the circuit: Redis could not be reached or did not answer in time.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)


class CircuitOpen(RedisConnectionError):
    """Not called: the circuit is open after a recent failure."""


class RedisBreaker(CircuitBreaker):
    """Redis' breaker: opens at the first failure, for REDIS_CIRCUIT_SECONDS; its probe waits for its answer."""

    def call(self, function, *args, **kwargs):
        """function(*args, **kwargs) through the breaker; CircuitOpen while it is open."""
        if not self.allow():
            raise CircuitOpen(f"{self.name} circuit open after a recent failure")
        try:
            result = function(*args, **kwargs)
        except REDIS_DOWN as exc:
            self.failed(str(exc))
            raise
        except BaseException:
            self.succeeded()  # it answered (with an error of another kind)
            raise
        self.succeeded()
        return result


_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def redis_breaker() -> RedisBreaker:
    """This process' breaker for Redis (the cache and the broker share the server)."""
    from django.conf import settings

    with _breakers_lock:
        if "redis" not in _breakers:
            policy = CircuitPolicy(failures=1, cool_down=settings.REDIS_CIRCUIT_SECONDS)
            _breakers["redis"] = RedisBreaker("redis", MemoryStore(), lambda: policy)
        return _breakers["redis"]
