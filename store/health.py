"""Health probes: /healthz (dependencies), /readyz (ready for traffic), /livez (process up)."""
from django.db import connection
from django.http import HttpRequest, JsonResponse


def _check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as exc:  # noqa: BLE001 - any failure makes the probe fail
        return False, f"error: {exc.__class__.__name__}"


def healthz(request: HttpRequest) -> JsonResponse:
    ok, detail = _check_database()
    checks = {"database": detail}
    healthy = ok
    return JsonResponse({"status": "healthy" if healthy else "unhealthy", "checks": checks}, status=200 if healthy else 503)


def readyz(request: HttpRequest) -> JsonResponse:
    ok, detail = _check_database()
    return JsonResponse({"status": "ready" if ok else "not_ready", "checks": {"database": detail}}, status=200 if ok else 503)


def livez(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "alive"})
