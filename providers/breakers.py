"""A circuit breaker per provider, shared by every worker process through the database.

After `failures` consecutive transient failures (timeouts) of a provider, its circuit opens
for `cool_down` seconds (both the current workflow version's, for that provider's step, which
the pipeline registers here: `circuit_limits_register`; PROVIDER_CIRCUIT["ROLES"] for a role no
step has, the carrier's rate quotes): `allow()` refuses at once, so
the orders that need the provider wait in their state without spending their retries. Once
the cool-down is over one call, the probe, is let through (half-open, claimed for
PROVIDER_CIRCUIT["PROBE_SECONDS"]): an answer closes the circuit, a failure opens it again. A
business answer (a decline, out of stock) is an answer: the provider is up.

The breaker is store.circuit's; its state is a `ProviderCircuit` row, the truth every process
shares (`DatabaseStore`). Each process reads it at most every
PROVIDER_CIRCUIT["READ_CACHE_SECONDS"] per provider, so a healthy provider costs no query per call.
"""
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from providers.models import ProviderCircuit
from providers.steps import steps
from store.circuit import (  # noqa: F401 - the states and the gauge's values, as the callers name them
    CLOSED,
    HALF_OPEN,
    OPEN,
    STATE_VALUES,
    CircuitBreaker,
    CircuitPolicy,
    CircuitRecord,
    CircuitView,
    MemoryStore,
)

logger = logging.getLogger("providers.breakers")


def _setting(name: str):
    return settings.PROVIDER_CIRCUIT[name]


_limits: list[Callable[[str], tuple[int, float]]] = []


def circuit_limits_register(limits: Callable[[str], tuple[int, float]]) -> None:
    """`limits(provider)` → (failures that open its circuit, cool-down seconds), read as they are
    needed (a failure, a probe): the pipeline's current workflow version registers it."""
    _limits[:] = [limits]


def _policy(provider: str) -> CircuitPolicy:
    # A role no pipeline step has (the carrier's rate quotes) takes its thresholds from the settings.
    failures, cool_down = _setting("ROLES").get(provider) or _limits[0](provider)
    return CircuitPolicy(failures=failures, cool_down=cool_down, probe=_setting("PROBE_SECONDS"))


def _record(row: ProviderCircuit) -> CircuitRecord:
    return CircuitRecord(row.failures, row.opened_until, row.probe_until, row.opened_count, row.last_failure)


class DatabaseStore:
    """Circuits kept as ProviderCircuit rows, on the database's wall clock, read through a
    per-process cache of READ_CACHE_SECONDS."""

    def __init__(self) -> None:
        self._read: dict[str, tuple[float, CircuitRecord]] = {}
        self._read_lock = threading.Lock()

    def now(self) -> datetime:
        return timezone.now()

    def later(self, now: datetime, seconds: float) -> datetime:
        return now + timedelta(seconds=seconds)

    def forget(self, name: str) -> None:
        with self._read_lock:
            self._read.pop(name, None)

    def read(self, name: str, *, fresh: bool = False) -> CircuitRecord:
        now_mono = time.monotonic()
        with self._read_lock:
            cached = self._read.get(name)
        if not fresh and cached and now_mono - cached[0] < _setting("READ_CACHE_SECONDS"):
            return cached[1]
        record = _record(ProviderCircuit.objects.get_or_create(provider=name)[0])
        with self._read_lock:
            self._read[name] = (now_mono, record)
        return record

    def change(self, name: str, apply: Callable[[CircuitRecord], bool]) -> tuple[CircuitRecord, bool]:
        with transaction.atomic():
            ProviderCircuit.objects.get_or_create(provider=name)
            row = ProviderCircuit.objects.select_for_update().get(provider=name)
            record = _record(row)
            answer = apply(record)
            row.failures, row.opened_until, row.probe_until = record.failures, record.opened_until, record.probe_until
            row.opened_count, row.last_failure = record.opened_count, record.last_failure
            row.save()
        self.forget(name)
        return record, answer

    def claim_probe(self, name: str, now: datetime, until: datetime) -> bool:
        # CircuitRecord.probe_claimable, as one conditional UPDATE: one claim among all processes.
        claimed = (ProviderCircuit.objects.filter(provider=name, opened_until__lte=now)
                   .filter(Q(probe_until__isnull=True) | Q(probe_until__lt=now)).update(probe_until=until))
        self.forget(name)
        return bool(claimed)

    def release_probe(self, name: str, now: datetime) -> bool:
        released = (ProviderCircuit.objects.filter(provider=name, opened_until__lte=now, probe_until__isnull=False)
                    .update(probe_until=None))
        self.forget(name)
        return bool(released)

    def reset(self, name: str) -> bool:
        changed = (ProviderCircuit.objects.filter(provider=name)
                   .filter(Q(failures__gt=0) | Q(opened_until__isnull=False))
                   .update(failures=0, opened_until=None, probe_until=None))
        self.forget(name)
        return bool(changed)

    def due(self, now: datetime) -> list[str]:
        return list(ProviderCircuit.objects.filter(opened_until__lte=now)
                    .filter(Q(probe_until__isnull=True) | Q(probe_until__lt=now)).values_list("provider", flat=True))


STORE = DatabaseStore()
# Circuits of a sandbox of its own (`isolated`): a dry run's calls never touch the store's circuits.
_isolated: ContextVar[MemoryStore | None] = ContextVar("breakers_isolated", default=None)


@contextmanager
def isolated() -> Iterator[None]:
    """Within the block (this thread or task), every provider's circuit is a new one kept in memory."""
    token = _isolated.set(MemoryStore())
    try:
        yield
    finally:
        _isolated.reset(token)


def breaker(provider: str) -> CircuitBreaker:
    return CircuitBreaker(provider, _isolated.get() or STORE, lambda: _policy(provider), logger)


def circuit(provider: str, *, fresh: bool = False) -> CircuitView:
    """The provider's circuit, read at most every READ_CACHE_SECONDS by this process (now with `fresh`)."""
    return breaker(provider).view(fresh=fresh)


def circuits() -> list[CircuitView]:
    """Every step's provider's circuit, in the pipeline's order, read now (for /healthz, /metrics and the admin)."""
    now = timezone.now()
    rows = {row.provider: row for row in ProviderCircuit.objects.all()}
    return [CircuitView.of(name, _record(rows.get(name) or ProviderCircuit(provider=name)), now) for name in steps()]


def _forget(provider: str) -> None:
    STORE.forget(provider)


def allow(provider: str) -> bool:
    """May a call go to the provider now? Closed: yes. Open: no. Half-open: yes for exactly one
    caller across all processes (the probe, claimed for PROBE_SECONDS), no for the others."""
    return breaker(provider).allow()


def probe_release(provider: str) -> bool:
    """The caller claimed the probe (`allow` in half-open) but made no call (its bulkhead was
    full): give the claim back, so the next run probes now rather than after PROBE_SECONDS.
    True when a claim was released."""
    return breaker(provider).probe_release()


def succeeded(provider: str) -> bool:
    """The provider answered: reset its failures and close its circuit. True when this closed it."""
    return breaker(provider).succeeded()


def failed(provider: str, reason: str) -> datetime | None:
    """A transient failure (timeout) of the provider. Returns the end of the cool-down when this
    failure opened the circuit (the FAILURES-th in a row, or the probe's), else None."""
    return breaker(provider).failed(reason)


def circuit_close(provider: str) -> bool:
    """Close the provider's circuit by hand (staff, after a confirmed recovery). True when it was not closed."""
    return breaker(provider).close()


def circuits_due() -> list[str]:
    """Providers whose cool-down is over and whose probe nobody has claimed: one call may go now."""
    return STORE.due(timezone.now())


def health_check() -> tuple[bool, str]:
    """/healthz's providers check: (False, "payment: circuit open") while any circuit is not closed."""
    try:
        troubled = [f"{view.provider}: circuit {view.state.replace('_', '-')}" for view in circuits()
                    if view.state != CLOSED]
    except Exception as exc:  # noqa: BLE001 - the database check reports the database
        return True, f"unknown: {exc.__class__.__name__}"
    return (False, ", ".join(troubled)) if troubled else (True, "ok")
