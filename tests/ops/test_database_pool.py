"""PostgreSQL connections are bounded per process (Django's psycopg pool) and time out."""
import json
import os
import secrets
import subprocess
import sys

import psycopg
import pytest

from tests.conftest import BASE_DIR

POSTGRES_URL = "postgres://store:secret@db.example:5432/store"


def database_settings(tmp_path, *, argv: tuple[str, ...] = ("manage.py", "check"), **extra) -> dict:
    """settings.DATABASES["default"] as a process started as `argv` reads it from this environment."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "DATA_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "store.settings", "SECRET_KEY": secrets.token_urlsafe(50), **extra}
    code = (f"import sys; sys.argv = {list(argv)!r}\n"
            "import json, django; django.setup()\n"
            "from django.conf import settings\n"
            "print(json.dumps(settings.DATABASES['default'], default=str))")
    result = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_a_web_process_pools_one_connection_per_gunicorn_thread_with_timeouts(tmp_path):
    database = database_settings(tmp_path, DATABASE_URL=POSTGRES_URL, GUNICORN_THREADS="6")

    assert database["CONN_MAX_AGE"] == 0  # the pool keeps the connections, not Django
    assert database["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 6, "timeout": 5}
    assert database["OPTIONS"]["connect_timeout"] == 5
    assert database["OPTIONS"]["options"] == "-c statement_timeout=30000"


def test_a_worker_process_pools_a_few_connections_and_the_sizes_follow_the_environment(tmp_path):
    assert database_settings(tmp_path, argv=("manage.py", "qcluster"), DATABASE_URL=POSTGRES_URL,
                             )["OPTIONS"]["pool"]["max_size"] == 4
    database = database_settings(tmp_path, DATABASE_URL=POSTGRES_URL, DB_POOL_MAX_SIZE="12", DB_POOL_MIN_SIZE="2",
                                 DB_POOL_TIMEOUT="3.5", DB_CONNECT_TIMEOUT="2", DB_STATEMENT_TIMEOUT_MS="0")
    assert database["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 12, "timeout": 3.5}
    assert database["OPTIONS"]["connect_timeout"] == 2
    assert "options" not in database["OPTIONS"]


def test_without_the_pool_django_keeps_a_connection_per_thread(tmp_path):
    database = database_settings(tmp_path, DATABASE_URL=POSTGRES_URL, DB_POOL="0", CONN_MAX_AGE="30")

    assert "pool" not in database["OPTIONS"]
    assert database["CONN_MAX_AGE"] == 30
    assert database["OPTIONS"]["connect_timeout"] == 5


@pytest.mark.parametrize("sqlite_env", [{}, {"DB_POOL_MAX_SIZE": "3"}])
def test_sqlite_has_no_pool(tmp_path, sqlite_env):
    database = database_settings(tmp_path, **sqlite_env)

    assert "pool" not in database["OPTIONS"]


# --- a real pool, on the machine's PostgreSQL ----------------------------------------------

REAL_POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")

POOL_SCRIPT = """
import json, os, threading, django
django.setup()
from django.db import OperationalError, connection, transaction

def backend_pid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]

# Bounded: two threads hold the pool's two connections; a third waits DB_POOL_TIMEOUT, then is refused.
holding, release, results = threading.Barrier(3), threading.Event(), {}

def hold(name):
    with transaction.atomic():
        results[name] = backend_pid()
        holding.wait()
        release.wait()
    connection.close()  # back to the pool

threads = [threading.Thread(target=hold, args=(name,)) for name in ("first", "second")]
for thread in threads:
    thread.start()
holding.wait()
try:
    backend_pid()
    results["third"] = "connected"
except OperationalError as error:
    results["third"] = type(error.__cause__).__name__
connection.close()
release.set()
for thread in threads:
    thread.join()
results["third_after_release"] = backend_pid()

# A forked child opens its own connections; the parent's stay usable.
parent = backend_pid()
reader, writer = os.pipe()
child = os.fork()
if child == 0:
    os.write(writer, str(backend_pid()).encode())
    os._exit(0)
os.waitpid(child, 0)
results["child"] = int(os.read(reader, 64))
results["parent"], results["parent_after_fork"] = parent, backend_pid()
print(json.dumps(results))
"""


def test_a_process_holds_at_most_its_pools_connections_and_a_forked_child_opens_its_own(tmp_path):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "DATA_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "store.settings", "SECRET_KEY": secrets.token_urlsafe(50),
           "DATABASE_URL": REAL_POSTGRES, "DB_POOL_MAX_SIZE": "2", "DB_POOL_TIMEOUT": "0.5"}
    result = subprocess.run([sys.executable, "-c", POOL_SCRIPT], cwd=BASE_DIR, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.splitlines()[-1])

    assert seen["first"] != seen["second"]
    assert seen["third"] == "PoolTimeout"  # a third connection was never opened
    assert seen["third_after_release"] in (seen["first"], seen["second"])  # reused, not a new one
    assert seen["parent_after_fork"] == seen["parent"]
    assert seen["child"] not in (seen["first"], seen["second"])


RECONNECT_SCRIPT = """
import json, os, threading, django, psycopg
django.setup()
from django.conf import settings
from django.db import OperationalError, connection, transaction

def backend_pid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]

# Four threads at once: the pool opens its four connections, all idle in the pool afterwards.
together, pids = threading.Barrier(4), []

def use():
    with transaction.atomic():
        pids.append(backend_pid())
        together.wait()
    connection.close()

threads = [threading.Thread(target=use) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()

# The server ends every session of the store's database, as a restart or an administrator does.
with psycopg.connect(os.environ["ADMIN_URL"], autocommit=True) as admin:
    admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                  [settings.DATABASES["default"]["NAME"]])

results = {"before": sorted(pids)}
try:
    results["after"] = backend_pid()
except OperationalError as error:
    results["after"] = type(error.__cause__).__name__
print(json.dumps(results))
"""


@pytest.fixture
def own_postgres_database():
    """A database of this test's own on the machine's PostgreSQL: its URL; dropped afterwards."""
    name = f"store_test_{secrets.token_hex(4)}"
    admin_url = REAL_POSTGRES
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield admin_url.rsplit("/", 1)[0] + "/" + name, admin_url
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_after_the_server_ends_every_session_the_next_query_gets_a_fresh_connection(tmp_path,
                                                                                     own_postgres_database):
    url, admin_url = own_postgres_database
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "DATA_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "store.settings", "SECRET_KEY": secrets.token_urlsafe(50),
           "DATABASE_URL": url, "ADMIN_URL": admin_url, "DB_POOL_MAX_SIZE": "4"}
    result = subprocess.run([sys.executable, "-c", RECONNECT_SCRIPT], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.splitlines()[-1])

    assert len(set(seen["before"])) == 4  # four pooled connections, all ended by the server
    assert isinstance(seen["after"], int), seen["after"]  # a connection, not PoolTimeout
    assert seen["after"] not in seen["before"]  # a fresh one
