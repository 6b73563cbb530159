"""The checks behind the health probes. Each returns (ok, detail); detail is "ok" when ok.

Details name the failure (an exception's class, a count) but never echo connection strings
or error messages, which may carry hosts and credentials.
"""
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

Check = tuple[bool, str]

# django-q2 clusters save their status every guard cycle (0.5 s here) with a 3 s expiry;
# a status older than this means the cluster stopped reporting.
CLUSTER_REPORT_MAX_AGE = timedelta(seconds=10)
REDIS_TIMEOUT_SECONDS = 1.0


def _error(exc: BaseException) -> str:
    return f"error: {exc.__class__.__name__}"


def check_database(alias: str = DEFAULT_DB_ALIAS) -> Check:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure fails the check
        return False, _error(exc)
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


def check_migrations(alias: str = DEFAULT_DB_ALIAS) -> Check:
    """No migration of the code that runs is unapplied in the database."""
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
