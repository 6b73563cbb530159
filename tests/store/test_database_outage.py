"""A request the database cannot serve answers 503 with Retry-After, never a bare 500 nor the
400 Django makes of a session it cannot save; /healthz sees a database that cannot be written,
static files the process cannot name and pending migrations.

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
from django.contrib.sessions.models import Session
from django.contrib.staticfiles.management.commands.collectstatic import Command as CollectStatic
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.management import call_command
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client
from django.urls import reverse
from prometheus_client import REGISTRY

from store import health_checks
from tests.conftest import PASSWORD, SHIPPING
from workflows.models import OutboxTask

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true"}


def fresh_connections() -> None:
    """The next query opens a new session (the pool's idle ones are closed too)."""
    connection.close()
    if getattr(connection, "pool", None) is not None:
        connection.close_pool()


@contextlib.contextmanager
def read_only_database():
    """Writes on this thread's connection are refused by the database itself until the block ends.

    On PostgreSQL the read-only session is the pool's only one: code that hands the connection
    back mid-request (django-q2's ORM broker closes old connections before it queues) takes the
    same session again, and no read-only session outlives the block."""
    if connection.vendor != "sqlite":
        fresh_connections()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        else:
            cursor.execute("SET default_transaction_read_only = on")
    try:
        yield
    finally:
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA query_only = OFF")
        else:
            fresh_connections()


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


def assert_try_again_page(response) -> None:
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert "<h1>Try again in a moment</h1>" in response.content.decode()


def test_a_session_that_cannot_be_saved_answers_503_not_400(catalog):
    client = Client(raise_request_exception=False)
    assert client.post(reverse("orders:cart_add"), {"product_id": "prod-002"}).status_code == 302  # a session now
    before = unavailable("page")

    with read_only_database():  # the view changes only the session; saving it is what fails
        response = client.post(reverse("orders:cart_add"), {"product_id": "prod-003"}, headers=HTMX)

    assert_try_again_page(response)  # static/js/store.js toasts "Try again in N seconds"
    assert unavailable("page") - before == 1


def test_a_signed_in_customers_cart_answers_503_when_its_session_cannot_be_saved(catalog, customer):
    client = Client(raise_request_exception=False)
    assert client.post("/accounts/login/", {"username": customer.email, "password": PASSWORD}).status_code == 302

    with read_only_database():  # the user is read from the session and the database; the save fails
        response = client.post(reverse("orders:cart_add"), {"product_id": "prod-002"}, headers=HTMX)

    assert_try_again_page(response)
    assert client.get(reverse("orders:cart")).context["user"] == customer  # still signed in afterwards


@pytest.mark.parametrize("password", [PASSWORD, "not-the-password"])
def test_signing_in_during_an_outage_answers_503(customer, password):
    client = Client(raise_request_exception=False)

    # Signing in writes a new session and the last sign-in time; a wrong password, the failed
    # attempt that django-axes counts towards a lockout.
    with read_only_database():
        response = client.post("/accounts/login/", {"username": customer.email, "password": password})

    assert_try_again_page(response)


def test_a_session_deleted_during_the_request_is_still_a_400_that_says_what_to_do(catalog):
    client = Client(raise_request_exception=False)
    client.post(reverse("orders:cart_add"), {"product_id": "prod-002"})

    def signed_out_meanwhile(execute, sql, params, many, context):
        if sql.startswith('UPDATE "django_session"'):  # another tab signed out just before this save
            Session.objects.all().delete()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(signed_out_meanwhile):
        response = client.post(reverse("orders:cart_add"), {"product_id": "prod-003"}, headers=HTMX)

    assert response.status_code == 400
    assert "<h1>We could not understand that request</h1>" in response.content.decode()
    assert "Reload the page and try again" in response.content.decode()


def test_a_bad_request_says_what_to_do_on_a_page_and_in_json_under_the_api(client):
    page = client.get("/", headers={"Host": "not-this-shop.example"})
    api = client.get("/api/products", headers={"Host": "not-this-shop.example"})

    assert page.status_code == 400
    assert "Reload the page and try again" in page.content.decode()
    assert api.status_code == 400
    assert api.json()["code"] == "bad_request"


@pytest.fixture
def orm_broker(settings, monkeypatch):
    """Tasks go to django-q2's ORM broker, in the same database as the outbox."""
    from django_q.conf import Conf

    settings.PIPELINE_TASKS_SYNC = False
    monkeypatch.setattr(Conf, "ORM", "default")


def test_a_reset_that_could_be_neither_queued_nor_kept_says_try_again_not_sent(orm_broker, customer):
    from django_q.models import OrmQ

    client = Client(raise_request_exception=False)

    with read_only_database():  # the broker's table and the outbox are both in the database
        response = client.post("/accounts/password/reset/", {"email": customer.email})

    assert_try_again_page(response)  # never the "check your e-mail" page
    assert OrmQ.objects.count() == OutboxTask.objects.count() == 0
    # Once the database takes writes again, the same request queues the e-mail.
    assert client.post("/accounts/password/reset/", {"email": customer.email})["Location"] == (
        "/accounts/password/reset/sent/")
    assert OrmQ.objects.count() == 1


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


@pytest.fixture
def manifest_storage(settings, tmp_path):
    """Hashed static names from a manifest in an empty STATIC_ROOT, as with DEBUG off; the
    storage is set up afresh (as by a restart) when a test calls `restart()`."""
    from django.contrib.staticfiles.storage import staticfiles_storage

    settings.STATIC_ROOT = tmp_path / "staticfiles"
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}
    staticfiles_storage._setup()
    return settings.STATIC_ROOT


def restart() -> None:
    """What a new process would do: make the storage anew, which reads the manifest."""
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.core.files.storage import storages

    storages._storages.pop("staticfiles", None)
    staticfiles_storage._setup()
    health_checks._cached.clear()


def test_healthz_is_unhealthy_without_the_static_manifest(client, manifest_storage, no_cache_of_checks):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["static"] == "no manifest loaded: run collectstatic, then restart the process"


def test_healthz_names_static_files_the_manifest_lacks(client, manifest_storage, no_cache_of_checks):
    manifest_storage.mkdir()
    # A manifest from another release: the stylesheet is there, the script and the icon are not.
    (manifest_storage / "staticfiles.json").write_text(
        '{"version": "1.1", "paths": {"css/store.css": "css/store.0123456789ab.css"}, "hash": "x"}')
    restart()

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["static"] == (
        "not in the loaded manifest: img/favicon.svg, js/menu.js, js/store.js: run collectstatic, then restart the process")


def test_healthz_stays_unhealthy_after_collectstatic_until_the_restart_pages_need(
        client, manifest_storage, no_cache_of_checks):
    pages = Client(raise_request_exception=False)
    assert pages.get("/").status_code == 500  # started before collectstatic: no hashed names

    collectstatic = CollectStatic()
    collectstatic.storage = ManifestStaticFilesStorage()  # run by another process: not this one's storage
    call_command(collectstatic, interactive=False, verbosity=0)
    health_checks._cached.clear()

    assert client.get("/healthz").json()["checks"]["static"].startswith("no manifest loaded")
    assert pages.get("/").status_code == 500  # the process still has no manifest
    restart()
    assert client.get("/healthz").json()["checks"]["static"] == "ok"
    assert pages.get("/").status_code == 200


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
