"""Health probes (/healthz /readyz /livez) and the X-Request-ID header."""
import re
import uuid

import pytest
from django.db import OperationalError, connections
from django.db.migrations.executor import MigrationExecutor

from tests.conftest import wait_for

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def no_cluster(monkeypatch):
    """Looks for clusters under a name no running cluster uses (a dev `make run` may be up)."""
    from django_q.conf import Conf

    name = f"nocluster{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(Conf, "PREFIX", name)
    monkeypatch.setattr(Conf, "Q_STAT", f"django_q:{name}:cluster")


@pytest.fixture
def cluster(qcluster, monkeypatch):
    """The real qcluster of tests/conftest.py, with its status key visible to this process."""
    from django_q.conf import Conf

    # The fixture renames the queue (Conf.PREFIX); the status key is derived from the name
    # when django_q.conf is imported, so follow the rename here.
    monkeypatch.setattr(Conf, "Q_STAT", f"django_q:{Conf.PREFIX}:cluster")
    return qcluster


# --- /livez ---------------------------------------------------------------------------

def test_livez_is_always_alive(client):
    response = client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}
    assert "no-cache" in response["Cache-Control"]


# --- /readyz --------------------------------------------------------------------------

def test_readyz_is_ready_after_migrations(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}


def test_readyz_is_not_ready_while_migrations_are_pending(client, monkeypatch):
    real_plan = MigrationExecutor.migration_plan

    def plan_with_one_pending(self, targets, clean_start=False):
        unapplied = self.loader.graph.nodes[("catalog", "0001_initial")]
        return [(unapplied, False), *real_plan(self, targets, clean_start)]

    monkeypatch.setattr(MigrationExecutor, "migration_plan", plan_with_one_pending)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "checks": {"database": "ok", "migrations": "1 pending"}}


def test_readyz_is_not_ready_without_a_database(client, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connections["default"], "cursor", unreachable)

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"] == "error: OperationalError"
    assert body["checks"]["migrations"].startswith("unknown")


# --- /healthz -------------------------------------------------------------------------

def test_healthz_without_a_worker_cluster_is_unhealthy_and_says_why(client, no_cluster):
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"] == "ok"
    assert body["checks"]["worker"].startswith("no cluster reporting")


@pytest.mark.worker
def test_healthz_is_healthy_with_a_running_worker_cluster(client, cluster):
    def healthy():
        response = client.get("/healthz")
        return response if response.status_code == 200 else None

    response = wait_for(healthy, timeout=30, interval=0.25, message="a healthy /healthz with the cluster up")

    assert response.json() == {"status": "healthy",
                               "checks": {"database": "ok", "broker": "ok", "worker": "ok", "static": "ok",
                                          "migrations": "ok", "providers": "ok"}}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.worker
def test_healthz_notices_a_stopped_cluster(client, cluster):
    wait_for(lambda: client.get("/healthz").status_code == 200, timeout=30, interval=0.25, message="cluster up")

    cluster.stop()

    response = wait_for(
        lambda: (r := client.get("/healthz")).status_code == 503 and r,
        timeout=30,
        interval=0.25,
        message="/healthz to notice the stopped cluster",
    )
    assert response.json()["checks"]["worker"].startswith("no cluster reporting")


def test_healthz_names_the_broker_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = UNREACHABLE_REDIS

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["broker"].startswith("error: ")
    assert body["checks"]["database"] == "ok"
    assert UNREACHABLE_REDIS not in response.content.decode()


def test_probes_accept_only_safe_methods(client):
    assert client.post("/healthz").status_code == 405
    assert client.head("/livez").status_code == 200


# --- X-Request-ID ---------------------------------------------------------------------

def test_request_id_is_echoed_back(client):
    response = client.get("/livez", HTTP_X_REQUEST_ID="req-1234.abc:DEF_9")
    assert response["X-Request-ID"] == "req-1234.abc:DEF_9"


def test_request_id_is_generated_when_absent(client):
    first = client.get("/livez")["X-Request-ID"]
    second = client.get("/livez")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


@pytest.mark.parametrize("insane", ["has spaces", "<script>alert(1)</script>", "x" * 129, "ünïcode", "a\tb"])
def test_request_id_is_replaced_when_insane(client, insane):
    response = client.get("/livez", HTTP_X_REQUEST_ID=insane)
    assert response["X-Request-ID"] != insane
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_request_id_is_on_error_responses_too(client, no_cluster):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="probe-42")
    assert response.status_code == 503
    assert response["X-Request-ID"] == "probe-42"
