"""Where a bench or drill runs: its backend (SQLite + ORM broker, or PostgreSQL + Redis),
its own data directory (a fresh `tempfile.mkdtemp`), database, queue name and Redis key
prefix, and the environment its processes (gunicorn, qcluster, the Django-side helpers) share.
Two runs on one machine (two checkouts, two `make drill`s) never share any of them.

Nothing here imports Django: the orchestrator stays backend-neutral and every process
that talks to the database is a subprocess started with `Backend.env()`.
"""
from __future__ import annotations

import atexit
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
RESULTS_DIR = BASE_DIR / "bench" / "results"

POSTGRES_SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
REDIS_SERVER = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379")
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "5"))
# One random key for the processes of this run, which must share it; none is kept anywhere.
RUN_SECRET_KEY = secrets.token_urlsafe(50)

# Settings the store reads from the environment: a caller's values (say, from `make test`)
# must not leak into a bench, which sets what it needs.
_STORE_ENV_PREFIXES = ("SIM_", "Q_", "PIPELINE_", "PAYMENT_", "CIRCUIT_", "WORKFLOW_", "JWT_", "RATE_LIMIT_", "DB_",
                       "WORKER_METRICS_", "WEBHOOK_", "EMAIL_")
_STORE_ENV_NAMES = {
    "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "DATA_DIR", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS",
    "CONN_MAX_AGE", "STATIC_MANIFEST", "STUCK_AFTER_SECONDS", "SWEEP_EVERY_MINUTES", "TRACKING_WAIT_SCALE",
    "TRACKING_WEBHOOK_URL", "CARRIER_WEBHOOK_SECRET",
    "LOG_LEVEL", "CACHE_KEY_PREFIX", "WHITENOISE_USE_FINDERS", "PIPELINE_TASKS_SYNC",
    "DJANGO_ALLOW_ASYNC_UNSAFE", "TRUSTED_PROXY_COUNT", "PROMETHEUS_MULTIPROC_DIR", "METRICS_TOKEN",
    "STAFF_REQUIRE_2FA",
}


@dataclass
class Backend:
    """One isolated store: `name` is "sqlite" or "postgres" (with Redis)."""

    name: str
    data_dir: Path
    database: str = "bench_store"  # PostgreSQL database name (ignored for SQLite)
    cluster_name: str = "bench"  # Q_CLUSTER_NAME (the queue) and CACHE_KEY_PREFIX (Redis keys)
    overrides: dict[str, str] = field(default_factory=dict)
    redis_server: str = ""  # redis://host:port of the store's own Redis (the broker-outage drill); else BENCH_REDIS
    # postgres://user@host:port of the store's own PostgreSQL (the db-outage drill); else BENCH_POSTGRES
    postgres_server: str = ""
    own_data_dir: bool = False  # made by make(): removed by discard()

    @classmethod
    def make(cls, name: str, *, tag: str = "bench", data_dir: str | Path | None = None,
             database: str | None = None) -> Backend:
        """A store of this run's own: a new temp folder (unless `data_dir` is given), and a
        database, queue name and Redis key prefix with a random part."""
        if name not in ("sqlite", "postgres"):
            raise SystemExit(f"unknown backend {name!r}: sqlite or postgres")
        run = unique_tag()
        slug = tag.replace("-", "")
        own = data_dir is None
        data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix=f"h5{tag}-{name}-{run}-"))
        backend = cls(name=name, data_dir=data_dir, database=database or f"{slug}_{run}_store",
                      cluster_name=f"h5{slug}{run}", own_data_dir=own)
        _stores.append(backend)
        return backend

    @property
    def label(self) -> str:
        return "SQLite + ORM broker" if self.name == "sqlite" else "PostgreSQL + Redis"

    @property
    def database_url(self) -> str:
        if self.name == "postgres":
            return f"{self.postgres_server or POSTGRES_SERVER}/{self.database}"
        return ""  # the settings' default: DATA_DIR/store.sqlite3

    @property
    def redis_url(self) -> str:
        if self.name != "postgres":
            return ""
        return f"{self.redis_server}/0" if self.redis_server else f"{REDIS_SERVER}/{REDIS_DB}"

    def env(self, **overrides: str | int | float) -> dict[str, str]:
        """The environment of every process of this store (production settings, DEBUG off)."""
        env = {k: v for k, v in os.environ.items()
               if k not in _STORE_ENV_NAMES and not k.startswith(_STORE_ENV_PREFIXES)}
        env.update({
            "DJANGO_SETTINGS_MODULE": "store.settings",
            "PYTHONPATH": str(BASE_DIR),
            "DEBUG": "0",
            "SECRET_KEY": RUN_SECRET_KEY,
            # testserver: the queries-per-request measurement uses django.test.Client.
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "STATIC_MANIFEST": "0",
            "DATA_DIR": str(self.data_dir),
            "Q_CLUSTER_NAME": self.cluster_name,
            "CACHE_KEY_PREFIX": self.cluster_name,
            "SIM_SEED": "workflow-store-bench",
            "SIM_LATENCY_SCALE": "0",
            "PIPELINE_BACKOFF_SCALE": "0",
            # Every bench order takes the happy path (drills set the seed's rates back).
            "SIM_INVENTORY_AVAILABLE_RATE": "1",
            "SIM_SHIPPING_SUCCESS_RATE": "1",
            # The parcel is delivered as the label is made, and the pipeline asks the carrier at
            # once: an order ends `delivered` in its first run, without the carrier's webhook.
            "SIM_TRACKING_STEP_SECONDS": "0",
            "SIM_TRACKING_CALLBACKS": "0",
            "TRACKING_WAIT_SCALE": "0",
            "JWT_ACCESS_MINUTES": "600",
            # The staff clients of the bench and the drills sign in with a password alone: they
            # measure the shop, not the second factor (on by default with DEBUG off).
            "STAFF_REQUIRE_2FA": "0",
            # A load generator is one client: the per-client rate limits would measure 429s.
            "RATE_LIMIT_API": "off",
            "RATE_LIMIT_API_BURST": "off",
            "RATE_LIMIT_LOGIN": "off",
            "RATE_LIMIT_REGISTER": "off",
            "RATE_LIMIT_LOGIN_FAILURES": "off",
            # The simulated notification latency stands for the mail provider; no console dump.
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            # LOG_LEVEL stays the settings' default (INFO), as in production; the cluster's
            # "Q Cluster … running" line (django-q's INFO) tells us it is up.
            "Q_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        })
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        env.update(self.overrides)
        env.update({key: str(value) for key, value in overrides.items()})
        return env

    # --- a fresh store ------------------------------------------------------------------

    def reset(self) -> None:
        """Empty data directory, empty migrated database (a copy of a migrated template), no Redis keys."""
        close_helpers(self)
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(mode=0o700, parents=True)
        if self.postgres_server:  # a server of the run's own: no shared template there, migrate
            _postgres_admin(f'CREATE DATABASE "{self.database}"', server=self.postgres_server)
            manage(self, "migrate", "--noinput", quiet=True)
            _redis_delete(self.redis_url, self.cluster_name)
            return
        template = migrated_template(self.name)
        if self.name == "postgres":
            _postgres_drop(self.database)
            _postgres_admin(f'CREATE DATABASE "{self.database}" TEMPLATE "{template}"')
            _redis_delete(self.redis_url, self.cluster_name)
        else:
            shutil.copyfile(template, self.data_dir / "store.sqlite3")

    def database_pids(self) -> list[int]:
        """The PostgreSQL server processes of the connections to this store's database (none on SQLite)."""
        if self.name != "postgres":
            return []
        import psycopg

        with psycopg.connect(f"{self.postgres_server or POSTGRES_SERVER}/postgres", autocommit=True,
                             connect_timeout=10) as connection:
            rows = connection.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,))
            return [pid for (pid,) in rows]

    def drop(self) -> None:
        close_helpers(self)
        if self.name == "postgres" and not self.postgres_server:  # a server of its own goes with its folder
            _postgres_drop(self.database)

    def discard(self, *, keep_data_dir: bool = False) -> None:
        """The end of a run: stop its helpers, drop its database and Redis keys, and remove the
        data directory this run made (kept when asked, with the logs)."""
        self.drop()
        if self.name == "postgres" and not self.redis_server:
            try:
                _redis_delete(self.redis_url, self.cluster_name)
            except Exception as exc:  # noqa: BLE001 - a Redis that is gone has no keys to leave
                print(f"  (Redis keys {self.cluster_name}* not deleted: {exc})", flush=True)
        if self.own_data_dir and not keep_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


_stores: list[Backend] = []
_scratch: list[Path] = []


def scratch_dir(prefix: str) -> Path:
    """A new temp folder for this run (say, a redis-server's), removed with its stores."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    _scratch.append(path)
    return path


def discard_stores(*, keep_data_dirs: bool = False) -> list[Path]:
    """discard() every store made since the last call and remove the scratch folders; with
    `keep_data_dirs`, the folders (the logs) stay: returns those kept."""
    kept = []
    while _stores:
        backend = _stores.pop()
        backend.discard(keep_data_dir=keep_data_dirs)
        if keep_data_dirs and backend.own_data_dir and backend.data_dir.exists():
            kept.append(backend.data_dir)
    while _scratch:
        path = _scratch.pop()
        if keep_data_dirs:
            kept.append(path)
        else:
            shutil.rmtree(path, ignore_errors=True)
    return kept


def _postgres_admin(sql: str, *, server: str = POSTGRES_SERVER) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=10) as connection:
        connection.execute(sql)


# A cache shared by every run on this machine: read-only once built, built under a lock.
TEMPLATES_DIR = Path(tempfile.gettempdir()) / "h5bench-templates"


def _schema_fingerprint() -> str:
    """Changes whenever a migration (ours or a pinned package's) may have changed."""
    digest = hashlib.sha256((BASE_DIR / "requirements.txt").read_bytes())
    for path in sorted(BASE_DIR.glob("*/migrations/*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def migrated_template(backend_name: str) -> str | Path:
    """A migrated, empty store to copy: an SQLite file, or a PostgreSQL template database."""
    import fcntl

    TEMPLATES_DIR.mkdir(parents=True, exist_ok=True)
    fingerprint = _schema_fingerprint()
    with open(TEMPLATES_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel drills build it once
        if backend_name == "postgres":
            name = f"h5tpl_{fingerprint}"
            marker = TEMPLATES_DIR / f"{name}.ready"
            if not marker.exists():
                _postgres_drop(name)
                _postgres_admin(f'CREATE DATABASE "{name}"')
                builder = Backend("postgres", TEMPLATES_DIR / "pg-build", database=name)
                manage(builder, "migrate", "--noinput", quiet=True)
                marker.touch()
            return name
        path = TEMPLATES_DIR / f"sqlite-{fingerprint}.sqlite3"
        if not path.exists():
            build = TEMPLATES_DIR / "sqlite-build"
            shutil.rmtree(build, ignore_errors=True)
            builder = Backend("sqlite", build)
            manage(builder, "migrate", "--noinput", quiet=True)
            with sqlite3.connect(build / "store.sqlite3") as connection:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copyfile(build / "store.sqlite3", path.with_suffix(".tmp"))
            os.replace(path.with_suffix(".tmp"), path)
            shutil.rmtree(build, ignore_errors=True)
        return path


def _postgres_drop(database: str) -> None:
    _postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _redis_delete(url: str, prefix: str) -> None:
    """Delete this store's keys from a Redis DB other runs may share: the queue (named `prefix`),
    django-q2's cluster stats (django_q:<prefix>:…) and the cache (<prefix>:…); nobody else's."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = [key for pattern in (prefix, f"{prefix}:*", f"django_q:{prefix}:*")
                for key in client.scan_iter(match=pattern, count=1000)]
        if keys:
            client.delete(*set(keys))
    finally:
        client.close()


def manage(backend: Backend, *args: str, quiet: bool = False, env: dict | None = None) -> str:
    """Run `manage.py <args>` for this store; raise with its output when it fails."""
    result = subprocess.run([PYTHON, str(BASE_DIR / "manage.py"), *args], cwd=BASE_DIR,
                            env=env or backend.env(), capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return "" if quiet else result.stdout


class _Helper:
    """A long-lived `python -m bench.django_side --serve` (Django set up once, many commands)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen([PYTHON, "-m", "bench.django_side", "--serve"], cwd=BASE_DIR, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)

    def ask(self, command: str, payload: dict) -> dict:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps({"command": command, "payload": payload}) + "\n")
        self.process.stdin.flush()
        while True:
            line = self.process.stdout.readline()
            if not line:
                self.log.flush()
                tail = Path(self.log.name).read_text(errors="replace")[-3000:]
                raise RuntimeError(f"bench.django_side exited ({self.process.wait()}) during {command}:\n{tail}")
            if line.startswith("BENCH_JSON "):
                return json.loads(line[len("BENCH_JSON "):])
            if line.startswith("BENCH_ERROR "):
                raise RuntimeError(f"bench.django_side {command} failed:\n{json.loads(line[len('BENCH_ERROR '):])}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


_helpers: dict[tuple, _Helper] = {}


def django_side(backend: Backend, command: str, payload: dict | None = None, *, env: dict | None = None) -> dict:
    """Run command `command` of bench.django_side in this store's environment; return its JSON answer.

    One helper process per store and environment serves every call (Django starts once)."""
    env = env or backend.env()
    key = tuple(sorted(env.items()))
    helper = _helpers.get(key)
    if helper is None or helper.process.poll() is not None:
        backend.data_dir.mkdir(parents=True, exist_ok=True)
        helper = _helpers[key] = _Helper(env, backend.data_dir / "django_side.log")
    return helper.ask(command, payload or {})


def close_helpers(backend: Backend | None = None) -> None:
    """Stop the helper processes (of one store, or all)."""
    for key, helper in list(_helpers.items()):
        if backend is None or dict(key).get("DATA_DIR") == str(backend.data_dir):
            helper.close()
            del _helpers[key]


atexit.register(close_helpers)


def unique_tag() -> str:
    return uuid.uuid4().hex[:6]
