"""A request the database cannot serve answers 503 with Retry-After, never a bare 500; /healthz
sees a database that cannot be written, missing static files and pending migrations.

The database is made read-only for real: SQLite's `PRAGMA query_only` on the connection the
requests use, PostgreSQL's `default_transaction_read_only` (for the session, and for the whole
database where /healthz has to see it on a new connection); the SQLite file made unwritable with
its permissions (or, for root, whom permissions do not stop, the immutable attribute).
"""
import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from django.urls import reverse
from prometheus_client import REGISTRY

from store import health_checks
from tests.conftest import SHIPPING

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true"}


@contextlib.contextmanager
def read_only_database():
    """Writes on this thread's connection are refused by the database itself until the block ends."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        else:
            cursor.execute("SET default_transaction_read_only = on")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA query_only = OFF")
            else:
                cursor.execute("SET default_transaction_read_only = off")


def unavailable(surface: str) -> float:
    return REGISTRY.get_sample_value("store_database_unavailable_total", {"surface": surface}) or 0.0


@pytest.fixture
def no_cache_of_checks():
    health_checks._cached.clear()
    yield
    health_checks._cached.clear()


# --- requests during an outage ---------------------------------------------------------

def test_a_checkout_over_the_api_answers_503_with_retry_after_in_the_api_shape(customer_api, catalog):
    from orders.models import Order

    before = unavailable("api")
    body = {"items": [{"productId": "prod-001", "quantity": 1}], "shipping": SHIPPING,
            "payment": {"card": "4242424242424242"}}

    with read_only_database():
        response = customer_api.post("/api/orders", body, format="json")

    assert response.status_code == 503
    assert response["Retry-After"].isdigit() and int(response["Retry-After"]) > 0
    assert response.json()["code"] == "database_unavailable"
    assert "Try again" in response.json()["error"]
    assert Order.objects.count() == 0
    assert unavailable("api") - before == 1
    # Once the database takes writes again, the same request places the order.
    assert customer_api.post("/api/orders", body, format="json").status_code == 201


def test_a_page_answers_a_static_try_again_page_with_retry_after(catalog):
    client = Client(raise_request_exception=False)
    before = unavailable("page")

    with read_only_database():  # the cart lives in the session, which is saved in the database
        response = client.post(reverse("orders:cart_add"), {"product_id": "prod-002"})

    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    html = response.content.decode()
    assert "<h1>Try again in a moment</h1>" in html
    assert "Something went wrong" not in html
    assert unavailable("page") - before == 1


def test_an_htmx_request_gets_the_503_its_error_toast_reads(catalog):
    client = Client(raise_request_exception=False)

    with read_only_database():
        response = client.post(reverse("orders:cart_add"), {"product_id": "prod-002"}, headers=HTMX)

    # static/js/store.js: a 503 with Retry-After toasts "Try again in N seconds" and swaps nothing.
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0


def test_a_bug_that_is_not_an_outage_is_still_a_500(customer_api, catalog, monkeypatch):
    from django.db import OperationalError

    def broken(execute, sql, params, many, context):
        raise OperationalError("no such column: bogus")

    client = Client(raise_request_exception=False)
    with connection.execute_wrapper(broken):
        response = client.get("/api/products")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"


# --- /healthz ----------------------------------------------------------------------------

@contextlib.contextmanager
def unwritable(path: Path):
    """The file cannot be written by this process: its write bits off, and for root the
    immutable attribute (chattr +i), the one thing that stops root on a local file system."""
    mode = path.stat().st_mode
    path.chmod(0o444)
    immutable = os.geteuid() == 0
    if immutable:
        chattr = shutil.which("chattr")
        if chattr is None:
            pytest.fail("chattr (e2fsprogs) is needed to make a file unwritable for root")
        subprocess.run([chattr, "+i", str(path)], check=True)
    try:
        yield
    finally:
        if immutable:
            subprocess.run([shutil.which("chattr"), "-i", str(path)], check=True)
        path.chmod(mode)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite file; PostgreSQL's read-only mode below")
def test_healthz_is_unhealthy_when_the_sqlite_file_cannot_be_written(client, no_cache_of_checks):
    path = Path(connection.settings_dict["NAME"])
    connection.ensure_connection()  # opened now, a connection would stay read-only after the block

    with unwritable(path):
        response = client.get("/healthz")
    connection.close()  # as a restarted process would, it opens the file anew

    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"
    assert response.json()["checks"]["database"].startswith("read-only")
    assert client.get("/healthz").json()["checks"]["database"] == "ok"


def fresh_connections() -> None:
    """The next query opens a new session (the pool's idle ones are closed too)."""
    connection.close()
    if getattr(connection, "pool", None) is not None:
        connection.close_pool()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's read-only mode; the SQLite file above")
def test_healthz_is_unhealthy_when_postgresql_is_read_only(client, no_cache_of_checks):
    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    fresh_connections()  # a new session, as after a failover or a restart, starts read-only
    try:
        response = client.get("/healthz")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET default_transaction_read_only = off")
            cursor.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        fresh_connections()

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "read-only"


def test_healthz_is_unhealthy_without_the_static_manifest(client, settings, tmp_path, no_cache_of_checks):
    from django.contrib.staticfiles.storage import staticfiles_storage

    settings.STATIC_ROOT = tmp_path / "staticfiles"  # nothing collected there
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}
    staticfiles_storage._setup()

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["static"] == "no manifest: run collectstatic"


def test_healthz_names_static_files_the_manifest_lacks(client, settings, tmp_path, no_cache_of_checks):
    from django.contrib.staticfiles.storage import staticfiles_storage

    settings.STATIC_ROOT = tmp_path / "staticfiles"
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}
    staticfiles_storage._setup()
    settings.STATIC_ROOT.mkdir()
    # A manifest from another release: the stylesheet is there, the script and the icon are not.
    (settings.STATIC_ROOT / "staticfiles.json").write_text(
        '{"version": "1.1", "paths": {"css/store.css": "css/store.0123456789ab.css"}, "hash": "x"}')

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["static"] == (
        "not in the manifest: img/favicon.svg, js/store.js: run collectstatic")


def test_healthz_is_unhealthy_while_a_migration_is_pending(client, no_cache_of_checks):
    recorder = MigrationRecorder(connection)
    latest = recorder.migration_qs.filter(app="orders").order_by("-id").first()
    latest.delete()  # the database no longer has it: as after deploying code with a new migration
    try:
        response = client.get("/healthz")
    finally:
        recorder.record_applied(latest.app, latest.name)

    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "1 pending"
