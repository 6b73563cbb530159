"""The checks behind the health probes. Each returns (ok, detail); detail is "ok" when ok.

Details name the failure (an exception's class, a count) but never echo connection strings
or error messages, which may carry hosts and credentials. Probes come every few seconds, so
the checks that cost (reading the migration files, the static manifest) keep their result for
CACHE_SECONDS in each process; none writes anything.
"""
import os
import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.db import DEFAULT_DB_ALIAS, connections
from django.template import loader
from django.utils import timezone

Check = tuple[bool, str]

# django-q2 clusters save their status every guard cycle (0.5 s here) with a 3 s expiry;
# a status older than this means the cluster stopped reporting.
CLUSTER_REPORT_MAX_AGE = timedelta(seconds=10)
REDIS_TIMEOUT_SECONDS = 1.0
CACHE_SECONDS = 5.0
# The page every other page extends: the static files it names must be servable.
BASE_TEMPLATE = "base.html"
_STATIC_TAG = re.compile(r"""{%\s*static\s+['"]([^'"]+)['"]\s*%}""")

_cached: dict[str, tuple[float, "Check"]] = {}
_cached_lock = threading.Lock()


def _cached_check(name: str, check: Callable[[], "Check"]) -> "Check":
    """`check()`'s result, computed at most once per CACHE_SECONDS in this process."""
    now = time.monotonic()
    with _cached_lock:
        hit = _cached.get(name)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    result = check()
    with _cached_lock:
        _cached[name] = (now, result)
    return result


def _error(exc: BaseException) -> str:
    return f"error: {exc.__class__.__name__}"


def check_database(alias: str = DEFAULT_DB_ALIAS, *, writable: bool = True) -> Check:
    """The database answers and, with `writable`, could take a write (without writing): PostgreSQL
    is not read-only (a standby, or `default_transaction_read_only` on), the SQLite file, its WAL
    files and its directory are writable by this process."""
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            if writable and connection.vendor == "postgresql":
                cursor.execute("SELECT current_setting('transaction_read_only'), "
                               "current_setting('default_transaction_read_only')")
                if "on" in cursor.fetchone():
                    return False, "read-only"
            else:
                cursor.execute("SELECT 1")
                cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure fails the check
        return False, _error(exc)
    if writable and connection.vendor == "sqlite" and not connection.is_in_memory_db():
        return _sqlite_writable(Path(connection.settings_dict["NAME"]))
    return True, "ok"


def _sqlite_writable(path: Path) -> Check:
    """SQLite writes the file, its -wal and -shm files, and creates them in its directory."""
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if candidate.exists() and not os.access(candidate, os.R_OK | os.W_OK):
            return False, f"read-only: {candidate.name} cannot be written"
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return False, "read-only: the database's directory cannot be written"
    return True, "ok"


def check_static() -> Check:
    """With a manifest storage (collectstatic's hashed names; DEBUG off), the manifest this process
    loaded names every static file the base template uses, as the `static` tag will ask it:
    without them every page answers 500. The storage reads the manifest once, when the process
    first uses it, so a collectstatic run after the start is seen only after a restart."""
    if not isinstance(staticfiles_storage, ManifestFilesMixin):
        return True, "ok"
    return _cached_check("static", _static_manifest)


def _static_manifest() -> Check:
    try:
        if not staticfiles_storage.hashed_files:  # what the process loaded, not the file on disk now
            return False, "no manifest loaded: run collectstatic, then restart the process"
        source = Path(loader.get_template(BASE_TEMPLATE).origin.name).read_text()
    except Exception as exc:  # noqa: BLE001
        return False, _error(exc)
    missing = set()
    for name in _STATIC_TAG.findall(source):
        try:
            staticfiles_storage.url(name)  # what `{% static %}` calls; ValueError: not in the manifest
        except ValueError:
            missing.add(name)
    if missing:
        return False, (f"not in the loaded manifest: {', '.join(sorted(missing))}: "
                       "run collectstatic, then restart the process")
    return True, "ok"


def check_broker() -> Check:
    """The task queue's broker: Redis answers PING, or the ORM broker's table can be read.

    Reads settings at call time, so an operator's (or a test's) REDIS_URL is what is probed.
    """
    redis_url = getattr(settings, "REDIS_URL", "")
    try:
        if redis_url:
            import redis

            client = redis.Redis.from_url(
                redis_url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                retry_on_timeout=False,
            )
            try:
                client.ping()
            finally:
                client.close()
        else:
            from django_q.conf import Conf
            from django_q.models import OrmQ

            OrmQ.objects.using(Conf.ORM or DEFAULT_DB_ALIAS).exists()
    except Exception as exc:  # noqa: BLE001
        return False, _error(exc)
    return True, "ok"


def check_worker() -> Check:
    """At least one django-q2 cluster (`manage.py qcluster`) reported its status recently."""
    try:
        from django_q.brokers import get_broker
        from django_q.conf import Conf
        from django_q.status import Stat

        broker = get_broker()
        cache = getattr(broker, "cache", None)
        if Conf.ORM and cache is not None and cache.__class__.__name__.endswith("LocMemCache"):
            # The ORM broker keeps cluster statuses in a Django cache; a per-process cache
            # cannot show this process another process's cluster.
            return False, "unknown: django-q's status cache is per-process (LocMemCache)"
        stats = Stat.get_all(broker=broker)
    except Exception as exc:  # noqa: BLE001
        return False, _error(exc)

    now = timezone.now()
    stopped = {str(Conf.STOPPING), str(Conf.STOPPED)}
    running = [
        stat
        for stat in stats
        if str(stat.status) not in stopped
        and getattr(stat, "timestamp", None) is not None
        and now - stat.timestamp <= CLUSTER_REPORT_MAX_AGE
    ]
    if running:
        return True, "ok"
    if stats:
        return False, "no cluster reporting (only stopped or stale clusters)"
    return False, "no cluster reporting"


def check_migrations(alias: str = DEFAULT_DB_ALIAS, *, cached: bool = False) -> Check:
    """No migration of the code that runs is unapplied in the database (`cached`: the result of
    the last CACHE_SECONDS, as /healthz asks every few seconds)."""
    if cached:
        return _cached_check(f"migrations:{alias}", lambda: check_migrations(alias))
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connections[alias])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:  # noqa: BLE001
        return False, _error(exc)
    if plan:
        return False, f"{len(plan)} pending"
    return True, "ok"


def run_checks(checks: dict[str, Callable[[], Check]]) -> tuple[bool, dict[str, str]]:
    """Runs every check (a failure does not skip the rest) and says whether all passed."""
    results = {name: check() for name, check in checks.items()}
    return all(ok for ok, _ in results.values()), {name: detail for name, (_, detail) in results.items()}
