"""Health probes: /healthz (dependencies), /readyz (ready for traffic), /livez (process up).

The checks live in store.health_checks; these views only pick which checks a probe runs.
- /healthz: database (answers and can be written), task broker, worker cluster, static files
  (the manifest this process loaded) and migrations (none pending); 503 "unhealthy" when any
  fails. A missing worker counts: without one, orders stay in "new" forever; missing static
  files or migrations make every page a 500. Then the checks that
  settings.HEALTH_DEGRADED_CHECKS names by dotted path (store imports no app), e.g. the
  providers' circuits: one failing answers 200 "degraded" (the shop takes orders, some wait),
  naming it in `checks`; a failure of the first five wins over degraded.
- /readyz: database reachable and no pending migrations; a load balancer sends traffic only
  when this is 200.
- /livez: the process answers; never touches a dependency, so an orchestrator does not
  restart healthy web processes because the database blinked.

Probes come every few seconds: a failing or degraded one is logged as one WARNING naming the
failed checks when its result changes (per process), and django.request's ERROR line for
each 503 is filtered out (store.logging.ProbeResponseFilter).
"""
import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from store import health_checks

logger = logging.getLogger("store.health")

# The last result each probe reported in this process, so a problem is logged once per change.
_last_problems: dict[str, tuple[str, dict[str, str]] | None] = {}


def _report(probe: str, status: str, problems: dict[str, str], *, status_code: int) -> None:
    """Log the probe's failing checks when they change: a WARNING while failing or degraded, INFO once passing."""
    current = (status, problems) if problems else None
    if _last_problems.get(probe) == current:
        return
    _last_problems[probe] = current
    if problems:
        summary = ", ".join(f"{name}: {detail}" for name, detail in problems.items())
        word = "failing" if status_code >= 500 else status
        logger.warning("%s %s (%s)", probe, word, summary, extra={"checks": problems, "status_code": status_code})
    else:
        logger.info("%s passing again", probe)


def _failed(details: dict[str, str], ok: bool) -> dict[str, str]:
    return {} if ok else {name: detail for name, detail in details.items() if detail != "ok"}


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    ok, details = health_checks.run_checks({
        "database": health_checks.check_database,
        "broker": health_checks.check_broker,
        "worker": health_checks.check_worker,
        "static": health_checks.check_static,
        "migrations": lambda: health_checks.check_migrations(cached=True),
    })
    degraded_checks = {name: import_string(path) for name, path in settings.HEALTH_DEGRADED_CHECKS.items()}
    fine, degraded_details = health_checks.run_checks(degraded_checks)
    if not ok:
        status, status_code, problems = "unhealthy", 503, _failed(details, ok)
    elif not fine:
        status, status_code, problems = "degraded", 200, _failed(degraded_details, fine)
    else:
        status, status_code, problems = "healthy", 200, {}
    _report("healthz", status, problems, status_code=status_code)
    return JsonResponse({"status": status, "checks": {**details, **degraded_details}}, status=status_code)


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    # Reachable is enough here: a read-only database is /healthz's to report, while every
    # process shares it, taking them all out of the load balancer would not help.
    database_ok, database = health_checks.check_database(writable=False)
    # Pending migrations cannot be computed without the database; say so instead of guessing.
    migrations_ok, migrations = health_checks.check_migrations() if database_ok else (False, "unknown: no database")
    ok = database_ok and migrations_ok
    _report("readyz", "not_ready", _failed({"database": database, "migrations": migrations}, ok),
            status_code=200 if ok else 503)
    return JsonResponse(
        {"status": "ready" if ok else "not_ready", "checks": {"database": database, "migrations": migrations}},
        status=200 if ok else 503,
    )


@never_cache
@require_safe
def livez(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "alive"})
