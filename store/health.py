"""Health probes: /healthz (dependencies), /readyz (ready for traffic), /livez (process up).

The checks live in store.health_checks; these views only pick which checks a probe runs.
- /healthz: database, task broker and worker cluster; 503 when any fails. A missing worker
  counts: without one, orders stay in "new" forever.
- /readyz: database reachable and no pending migrations; a load balancer sends traffic only
  when this is 200.
- /livez: the process answers; never touches a dependency, so an orchestrator does not
  restart healthy web processes because the database blinked.
"""
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from store import health_checks


def _probe(checks: dict, *, ok_status: str, failed_status: str) -> JsonResponse:
    ok, details = health_checks.run_checks(checks)
    return JsonResponse({"status": ok_status if ok else failed_status, "checks": details}, status=200 if ok else 503)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return _probe(
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
    return JsonResponse(
        {"status": "ready" if ok else "not_ready", "checks": {"database": database, "migrations": migrations}},
        status=200 if ok else 503,
    )


@never_cache
@require_safe
def livez(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "alive"})
