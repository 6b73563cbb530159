"""A circuit breaker per provider, shared by every worker process through the database.

After PROVIDER_CIRCUIT["FAILURES"] consecutive transient failures (timeouts) of a provider,
its circuit opens for PROVIDER_CIRCUIT["COOL_DOWN_SECONDS"]: `allow()` refuses at once, so
the orders that need the provider wait in their state without spending their retries. Once
the cool-down is over one call, the probe, is let through (half-open): an answer closes the
circuit, a failure opens it again. A business answer (a decline, out of stock) is an answer:
the provider is up.

The row is the truth every process shares; each process reads it at most every
PROVIDER_CIRCUIT["READ_CACHE_SECONDS"] per provider, so a healthy provider costs no query per
call. (store.circuit is another breaker: for Redis, per process, needing nothing shared.)
"""
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from providers.models import ProviderCircuit
from providers.steps import steps

logger = logging.getLogger("providers.breakers")

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"
# The gauge's values (store_provider_circuit_state).
STATE_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


@dataclass(frozen=True)
class CircuitView:
    """A provider's circuit as read: `state` closed, half_open or open; `opened_until` the end of
    the cool-down (None when closed); `failures` consecutive transient failures."""

    provider: str
    state: str
    failures: int
    opened_until: datetime | None
    opened_count: int
    last_failure: str

    @classmethod
    def of(cls, row: ProviderCircuit, now: datetime) -> "CircuitView":
        if row.opened_until is None:
            state = CLOSED
        elif now < row.opened_until:
            state = OPEN
        else:
            state = HALF_OPEN
        return cls(row.provider, state, row.failures, row.opened_until, row.opened_count, row.last_failure)


def _setting(name: str):
    return settings.PROVIDER_CIRCUIT[name]


_read: dict[str, tuple[float, CircuitView]] = {}
_read_lock = threading.Lock()


def _row(provider: str) -> ProviderCircuit:
    row, _ = ProviderCircuit.objects.get_or_create(provider=provider)
    return row


def circuit(provider: str, *, fresh: bool = False) -> CircuitView:
    """The provider's circuit, read at most every READ_CACHE_SECONDS by this process (now with `fresh`)."""
    now_mono = time.monotonic()
    with _read_lock:
        cached = _read.get(provider)
    if not fresh and cached and now_mono - cached[0] < _setting("READ_CACHE_SECONDS"):
        return cached[1]
    view = CircuitView.of(_row(provider), timezone.now())
    with _read_lock:
        _read[provider] = (now_mono, view)
    return view


def circuits() -> list[CircuitView]:
    """Every step's provider's circuit, in the pipeline's order, read now (for /healthz, /metrics and the admin)."""
    now = timezone.now()
    rows = {row.provider: row for row in ProviderCircuit.objects.all()}
    return [CircuitView.of(rows.get(name) or ProviderCircuit(provider=name), now) for name in steps()]


def _forget(provider: str) -> None:
    with _read_lock:
        _read.pop(provider, None)


def allow(provider: str) -> bool:
    """May a call go to the provider now? Closed: yes. Open: no. Half-open: yes for exactly one
    caller across all processes (the probe, claimed for PROBE_SECONDS), no for the others."""
    view = circuit(provider)
    if view.state == CLOSED:
        return True
    now = timezone.now()
    if view.state == OPEN and now < view.opened_until:
        return False
    claimed = (ProviderCircuit.objects
               .filter(provider=provider, opened_until__lte=now)
               .filter(Q(probe_until__isnull=True) | Q(probe_until__lt=now))
               .update(probe_until=now + timedelta(seconds=_setting("PROBE_SECONDS"))))
    _forget(provider)
    if claimed:
        logger.info("%s circuit half-open: probing", provider, extra={"provider": provider})
    return bool(claimed)


def probe_release(provider: str) -> bool:
    """The caller claimed the probe (`allow` in half-open) but made no call (its bulkhead was
    full): give the claim back, so the next run probes now rather than after PROBE_SECONDS.
    True when a claim was released."""
    released = (ProviderCircuit.objects.filter(provider=provider, opened_until__lte=timezone.now(),
                                               probe_until__isnull=False).update(probe_until=None))
    _forget(provider)
    return bool(released)


def succeeded(provider: str) -> bool:
    """The provider answered: reset its failures and close its circuit. True when this closed it."""
    view = circuit(provider)
    if view.state == CLOSED and view.failures == 0:
        return False
    changed = (ProviderCircuit.objects.filter(provider=provider)
               .filter(Q(failures__gt=0) | Q(opened_until__isnull=False))
               .update(failures=0, opened_until=None, probe_until=None))
    _forget(provider)
    if changed and view.state != CLOSED:
        logger.warning("%s circuit closed: the provider answers again", provider, extra={"provider": provider})
        return True
    return False


def failed(provider: str, reason: str) -> datetime | None:
    """A transient failure (timeout) of the provider. Returns the end of the cool-down when this
    failure opened the circuit (the FAILURES-th in a row, or the probe's), else None."""
    now = timezone.now()
    with transaction.atomic():
        _row(provider)
        row = ProviderCircuit.objects.select_for_update().get(provider=provider)
        row.failures += 1
        row.last_failure = reason[:200]
        opens = (row.failures >= _setting("FAILURES") if row.opened_until is None
                 else row.opened_until <= now)  # the probe (half-open) failed
        if opens:
            row.opened_until = now + timedelta(seconds=_setting("COOL_DOWN_SECONDS"))
            row.probe_until = None
            row.opened_count += 1
        row.save()
    _forget(provider)
    if opens:
        logger.warning("%s circuit open for %ss after %s consecutive failures (%s)", provider,
                       _setting("COOL_DOWN_SECONDS"), row.failures, row.last_failure,
                       extra={"provider": provider, "failures": row.failures})
        return row.opened_until
    return None


def circuit_close(provider: str) -> bool:
    """Close the provider's circuit by hand (staff, after a confirmed recovery). True when it was not closed."""
    changed = ProviderCircuit.objects.filter(provider=provider).filter(
        Q(failures__gt=0) | Q(opened_until__isnull=False)).update(failures=0, opened_until=None, probe_until=None)
    _forget(provider)
    return bool(changed)


def circuits_due() -> list[str]:
    """Providers whose cool-down is over and whose probe nobody has claimed: one call may go now."""
    now = timezone.now()
    return list(ProviderCircuit.objects.filter(opened_until__lte=now)
                .filter(Q(probe_until__isnull=True) | Q(probe_until__lt=now)).values_list("provider", flat=True))


def health_check() -> tuple[bool, str]:
    """/healthz's providers check: (False, "payment: circuit open") while any circuit is not closed."""
    try:
        troubled = [f"{view.provider}: circuit {view.state.replace('_', '-')}" for view in circuits()
                    if view.state != CLOSED]
    except Exception as exc:  # noqa: BLE001 - the database check reports the database
        return True, f"unknown: {exc.__class__.__name__}"
    return (False, ", ".join(troubled)) if troubled else (True, "ok")
