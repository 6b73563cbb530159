"""Operations fixtures: the production rate limits, real gunicorn and qcluster processes, scrapes."""
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import (  # noqa: F401 - PRODUCTION_RATE_LIMITS: the tests of this folder import it from here
    BASE_DIR,
    PRODUCTION_RATE_LIMITS,
    ManagedProcess,
    QCluster,
    _database_url_of_test_db,
    wait_for,
)

# A real Redis runs on this machine and in CI; a process pointed at it shares its counters.
TEST_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture
def client_address():
    """An IP address of this test's own (limits are per address)."""
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2] or 1}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, *, headers: dict | None = None, timeout: float = 5.0) -> tuple[int, dict, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """A Prometheus text scrape as {(sample name, frozenset(labels.items())): value}."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scrape: dict, name: str, **labels) -> float:
    """One sample's value (0 when the series does not exist yet)."""
    return scrape.get((name, frozenset(labels.items())), 0.0)


def exported_names(text: str) -> set[str]:
    """Every sample name a scrape can show, even for labelled metrics with no series yet."""
    names = set()
    suffixes = {"counter": ["_total", "_created"], "histogram": ["_bucket", "_count", "_sum", "_created"],
                "summary": ["_count", "_sum", "_created"], "gauge": [""], "info": ["_info"]}
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in suffixes.get(family.type, [""]))
        names.update(sample.name for sample in family.samples)
    return names


def process_env(**extra) -> dict[str, str]:
    """The environment of a store subprocess sharing the test database (test settings)."""
    from django.conf import settings as django_settings

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "store.settings_test",
        "DATABASE_URL": _database_url_of_test_db(),
        "DATA_DIR": str(django_settings.DATA_DIR),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update({key: str(value) for key, value in extra.items()})
    return env


class WebServer(ManagedProcess):
    """`gunicorn store.wsgi` (the Procfile's web process, reading ./gunicorn.conf.py) on a free port."""

    def __init__(self, env: dict[str, str], *, workers: int = 1, log_dir: Path) -> None:
        self.env = env
        self.workers = workers
        self.port = free_port()
        self.log_path = log_dir / f"gunicorn-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "WebServer":
        self.spawn(
            [sys.executable, "-m", "gunicorn", "store.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(self.workers), "--threads", "2", "--no-control-socket", "--error-logfile", "-"],
            self.env,
        )

        def answers():
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.output()[-3000:]}")
            try:
                return http_get(f"{self.url}/livez", timeout=1)[0] == 200
            except OSError:
                return False

        wait_for(answers, timeout=30, interval=0.1, message="gunicorn to answer /livez")
        return self


@pytest.fixture
def web_servers(tmp_path):
    """start(env, workers=1) → a running WebServer; all are stopped after the test."""
    started: list[WebServer] = []

    def start(env: dict[str, str], *, workers: int = 1) -> WebServer:
        server = WebServer(env, workers=workers, log_dir=tmp_path)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


# --- a worker cluster with its metrics port ---------------------------------------------------

@pytest.fixture(scope="module")
def metrics_cluster_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """`manage.py qcluster` as operators run it for Prometheus: multiprocess dir + WORKER_METRICS_PORT."""
    with django_db_blocker.unblock():
        env = process_env()
    name = f"ops{uuid.uuid4().hex[:8]}"
    port = free_port()
    env.update({
        "Q_CLUSTER_NAME": name,
        "Q_WORKERS": "2",
        "LOG_LEVEL": "INFO",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("worker-metrics")),
        "WORKER_METRICS_PORT": str(port),
        "WORKER_METRICS_ADDRESS": "127.0.0.1",
    })
    cluster = QCluster(env)
    cluster.metrics_url = f"http://127.0.0.1:{port}/metrics"
    cluster.start()

    def serving():
        if cluster.process.poll() is not None:
            pytest.fail(f"qcluster exited with {cluster.process.returncode}:\n{cluster.output()[-3000:]}")
        try:
            return http_get(cluster.metrics_url, timeout=1)[0] == 200
        except OSError:
            return False

    wait_for(serving, timeout=30, interval=0.1, message="the worker's metrics port")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def metrics_cluster(metrics_cluster_process, transactional_db, settings, monkeypatch):
    """Tasks go through the broker to the module's cluster (whose status /healthz sees)."""
    from django_q.conf import Conf

    name = metrics_cluster_process.env["Q_CLUSTER_NAME"]
    monkeypatch.setattr(Conf, "PREFIX", name)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    monkeypatch.setattr(Conf, "Q_STAT", f"django_q:{name}:cluster")
    settings.PIPELINE_TASKS_SYNC = False
    return metrics_cluster_process


def scrape_worker(cluster, **headers) -> str:
    status, _, body = http_get(cluster.metrics_url, headers=headers)
    assert status == 200, body
    return body


def settle(order_id: int, *states: str, timeout: float = 60):
    from orders.models import Order

    def reached():
        order = Order.objects.get(pk=order_id)
        return order if order.state in states else None

    return wait_for(reached, timeout=timeout, interval=0.1, message=f"order {order_id} to reach {states}")


def json_log_lines(text: str) -> list[dict]:
    """The JSON objects among a process's output lines (other lines are skipped)."""
    lines = []
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict):
            lines.append(line)
    return lines


# --- `make run`, as a person starts the demo ----------------------------------------------------

def clean_env(data_dir, **extra) -> dict[str, str]:
    """The environment of a shell on a fresh machine: no key, no test settings, no servers."""
    env = {key: value for key, value in os.environ.items()
           if key not in {"SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "DEBUG",
                          "PROMETHEUS_MULTIPROC_DIR", "WORKER_METRICS_PORT", "MAKEFLAGS", "MAKELEVEL",
                          "HOST", "PORT", "WEB_PORT", "STORE_URL", "STORE_PUBLIC_URL", "METRICS_TOKEN"}}
    return {**env, "DATA_DIR": str(data_dir), **{key: str(value) for key, value in extra.items()}}


class MakeRun(ManagedProcess):
    """`make run` in a session of its own. The Procfile's worker runs the cluster in a session of
    its own too, so stopping is what Ctrl-C does: TERM to the group, which honcho passes on."""

    def __init__(self, env: dict[str, str], log_path) -> None:
        self.env, self.log_path = env, log_path

    def start(self) -> None:
        self.spawn(["make", "--no-print-directory", "run"], self.env)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        self.log.close()
        leftovers = [pid for pid in _processes_with(self.env["DATA_DIR"])]
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
        assert leftovers == [], f"make run left processes behind: {leftovers}"


def _processes_with(data_dir: str) -> list[int]:
    """Processes whose environment names `data_dir` (what this test started)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = open(f"/proc/{entry}/environ", "rb").read().split(b"\0")  # noqa: SIM115
        except OSError:
            continue
        if f"DATA_DIR={data_dir}".encode() in environ:
            found.append(int(entry))
    return found
