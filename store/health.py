"""Health probes: /healthz (dependencies), /readyz (ready for traffic), /livez (process up).

The checks live in store.health_checks; these views only pick which checks a probe runs.
- /healthz: database, task broker and worker cluster; 503 when any fails. A missing worker
  counts: without one, orders stay in "new" forever.
- /readyz: database reachable and no pending migrations; a load balancer sends traffic only
  when this is 200.
- /livez: the process answers; never touches a dependency, so an orchestrator does not
  restart healthy web processes because the database blinked.

Probes come every few seconds: a failing one is logged as one WARNING naming the failed
checks when its result changes (per process), and django.request's ERROR line for each 503
is filtered out (store.logging.ProbeResponseFilter).
"""
import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from store import health_checks

logger = logging.getLogger("store.health")

# The last result each probe reported in this process, so a failure is logged once per change.
_last_failures: dict[str, dict[str, str] | None] = {}


def _report(probe: str, ok: bool, details: dict[str, str]) -> None:
    failures = None if ok else {name: detail for name, detail in details.items() if detail != "ok"}
    if _last_failures.get(probe) == failures:
        return
    _last_failures[probe] = failures
    if failures:
        summary = ", ".join(f"{name}: {detail}" for name, detail in failures.items())
        logger.warning("%s failing (%s)", probe, summary, extra={"checks": failures, "status_code": 503})
    else:
        logger.info("%s passing again", probe)


def _probe(name: str, checks: dict, *, ok_status: str, failed_status: str) -> JsonResponse:
    ok, details = health_checks.run_checks(checks)
    _report(name, ok, details)
    return JsonResponse({"status": ok_status if ok else failed_status, "checks": details}, status=200 if ok else 503)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return _probe(
        "healthz",
        {
            "database": health_checks.check_database,
            "broker": health_checks.check_broker,
            "worker": health_checks.check_worker,
        },
        ok_status="healthy",
        failed_status="unhealthy",
    )


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    database_ok, database = health_checks.check_database()
    # Pending migrations cannot be computed without the database; say so instead of guessing.
    migrations_ok, migrations = health_checks.check_migrations() if database_ok else (False, "unknown: no database")
    ok = database_ok and migrations_ok
    _report("readyz", ok, {"database": database, "migrations": migrations})
    return JsonResponse(
        {"status": "ready" if ok else "not_ready", "checks": {"database": database, "migrations": migrations}},
        status=200 if ok else 503,
    )


@never_cache
@require_safe
def livez(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "alive"})
