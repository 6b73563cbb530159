"""Probes against a real web process: an unreachable broker, and quiet logs while it lasts."""
import json

import pytest

from tests.ops.conftest import http_get, json_log_lines, process_env

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@pytest.mark.worker
def test_healthz_names_the_broker_when_redis_is_unreachable_and_logs_it_once(transactional_db, web_servers):
    server = web_servers(process_env(REDIS_URL=UNREACHABLE_REDIS, LOG_LEVEL="INFO"))

    for _ in range(3):
        status, headers, body = http_get(f"{server.url}/healthz", headers={"X-Request-ID": "probe-1"})
        assert status == 503
        checks = json.loads(body)["checks"]
        assert json.loads(body)["status"] == "unhealthy"
        assert checks["database"] == "ok"
        assert checks["broker"].startswith("error: ")
        assert headers["X-Request-ID"] == "probe-1"
        assert UNREACHABLE_REDIS not in body and "127.0.0.1:1" not in body

    # The process lives and stays ready: the database is fine.
    assert http_get(f"{server.url}/livez")[0] == 200
    assert http_get(f"{server.url}/readyz")[0] == 200

    lines = json_log_lines(server.output())
    # No ERROR line per probe from django.request; one WARNING naming the failing checks.
    assert not [line for line in lines if line.get("logger") == "django.request"]
    warnings = [line for line in lines if line.get("logger") == "store.health"]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "WARNING"
    assert "broker: error: " in warnings[0]["message"]
    assert warnings[0]["checks"]["broker"].startswith("error: ")


def test_readyz_is_not_ready_while_migrations_are_pending(client, monkeypatch):
    from django.db.migrations.executor import MigrationExecutor

    real_plan = MigrationExecutor.migration_plan

    def one_pending(self, targets, clean_start=False):
        return [(self.loader.graph.nodes[("orders", "0001_initial")], False), *real_plan(self, targets, clean_start)]

    monkeypatch.setattr(MigrationExecutor, "migration_plan", one_pending)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "1 pending"


def test_probes_and_metrics_are_exempt_from_the_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/api/products").status_code == 301
    for path in ("/livez", "/readyz", "/metrics"):
        assert client.get(path).status_code == 200, path
