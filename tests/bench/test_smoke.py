"""Smoke runs of `make bench` and `make drill` with tiny N (`--quick`): `make smoke`.

Marked `smoke`: `make test` leaves them out, `make smoke` (pytest -m smoke) runs them, and CI
runs them as a step of their own. They start the real processes (gunicorn, qcluster,
schemathesis), each run on a store of its own (a new temp folder, queue name and Redis key
prefix: bench.env), so they check that the harness works end to end, not the numbers.
The broker-outage drill runs on PostgreSQL (BENCH_POSTGRES) with a redis-server of its own; the
db-outage drill on a PostgreSQL cluster of its own (Debian's server binaries).
The provider-outage drill's checks of the circuit breaker, retry budget and re-drive need the
pipeline that keeps provider waits off the worker processes (bench/README.md).
The slow-clients drill runs Debian's nginx (installed when missing).
The clock-skew drill runs on PostgreSQL + Redis too and needs Debian's libfaketime (it installs
it when missing).
The webhooks drill waits for a round of the webhooks' dispatcher (a schedule every minute).
The bench's quick mode uses its pure-Python load generator: no wrk needed. All twelve run at once
(each waits on its processes much of the time), which keeps the whole file within a few minutes.
"""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.smoke

BASE_DIR = Path(__file__).resolve().parents[2]
RUNS = {
    # --keep-failed: a failed run's folder (gunicorn and qcluster logs) stays for a look.
    "bench": ["-m", "bench", "--quick", "--backend=sqlite", "--no-save", "--keep-failed"],
    **{drill: ["-m", "bench.drills", drill, "--quick", "--backend=sqlite", "--keep-failed"]
       for drill in ("crash", "oversell", "idempotency", "fuzz", "restart")},
    "broker-outage": ["-m", "bench.drills", "broker-outage", "--quick", "--backend=postgres", "--keep-failed"],
    "provider-outage": ["-m", "bench.drills", "provider-outage", "--quick", "--backend=sqlite", "--keep-failed"],
    "slow-clients": ["-m", "bench.drills", "slow-clients", "--quick", "--backend=sqlite", "--keep-failed"],
    "clock-skew": ["-m", "bench.drills", "clock-skew", "--quick", "--backend=postgres", "--keep-failed"],
    "db-outage": ["-m", "bench.drills", "db-outage", "--quick", "--backend=postgres", "--keep-failed"],
    "webhooks": ["-m", "bench.drills", "webhooks", "--quick", "--backend=sqlite", "--keep-failed"],
}


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    """Start every quick run at once; collect (exit code, output, seconds) of each."""
    logs = tmp_path_factory.mktemp("bench-smoke")
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    started = time.monotonic()
    processes = {}
    for name, args in RUNS.items():
        log = open(logs / f"{name}.log", "w")  # noqa: SIM115 - closed below
        processes[name] = (subprocess.Popen([sys.executable, *args], cwd=BASE_DIR, env=env, stdout=log,
                                            stderr=subprocess.STDOUT), log)
    results = {}
    for name, (process, log) in processes.items():
        try:
            process.wait(timeout=600)  # generous: twelve runs at once share a small, often busy machine
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        results[name] = (process.returncode, (logs / f"{name}.log").read_text(), time.monotonic() - started)
    return results


@pytest.mark.parametrize("name", list(RUNS))
def test_quick_run_passes(smoke_runs, name):
    code, output, _ = smoke_runs[name]
    assert code == 0, f"`python {' '.join(RUNS[name])}` exited {code}:\n{output[-6000:]}"


def test_bench_quick_prints_every_measurement(smoke_runs):
    _, output, _ = smoke_runs["bench"]
    for part in ("floor /livez", "catalog /", "product /products/prod-001/", "GET /api/products",
                 "order page /orders/<id>/", "GET /api/orders/<id>", "POST /api/orders", "orders/s",
                 "of floor", "orders/s per worker", "cluster processes", "pipeline scaling",
                 "overhead p50", "queries", "seed latencies, default cluster", "cluster RSS peak"):
        assert part in output, f"the bench's output lacks {part!r}:\n{output[-4000:]}"


def test_drills_print_what_they_did_and_pass(smoke_runs):
    for name in ("crash", "oversell", "idempotency", "fuzz", "restart"):
        _, output, _ = smoke_runs[name]
        assert f"== {name} (sqlite): PASS" in output, output[-3000:]
        assert "1 passed, 0 failed" in output


def test_broker_outage_prints_its_figures(smoke_runs):
    _, output, _ = smoke_runs["broker-outage"]
    for part in ("its own redis-server on port", "Redis kill -9", "Redis started again", "Redis SIGSTOP",
                 "Redis SIGCONT", "Redis killed: /healthz", "Redis frozen: /readyz", "requests by status",
                 "/livez:", "purchases in", "orders in the database", "== broker-outage (postgres):"):
        assert part in output, f"the broker-outage drill's output lacks {part!r}:\n{output[-4000:]}"


def test_provider_outage_prints_its_figures(smoke_runs):
    _, output, _ = smoke_runs["provider-outage"]
    for part in ("manage.py provider_outage payment --seconds", "orders placed during the outage",
                 "charge calls per outage order", "placement → paying (inventory + risk): baseline p50",
                 "burst baseline: ", "paid → shipped (shipping): burst baseline p50", "/healthz:", "stalled:", "stock adds up",
                 "== provider-outage (sqlite):"):
        assert part in output, f"the provider-outage drill's output lacks {part!r}:\n{output[-4000:]}"


def test_db_outage_prints_its_figures(smoke_runs):
    _, output, _ = smoke_runs["db-outage"]
    for part in ("its own PostgreSQL", "run as", "baseline:", "placement → terminal median", "PostgreSQL stopped (fast)",
                 "accepting connections again", "orders placed before the database came back", "requests by status",
                 "went again", "charges", "== db-outage (postgres):"):
        assert part in output, f"the db-outage drill's output lacks {part!r}:\n{output[-4000:]}"


def test_slow_clients_prints_its_figures(smoke_runs):
    _, output, _ = smoke_runs["slow-clients"]
    for part in ("nginx on http://127.0.0.1:", "baseline /livez: p50", "baseline /products/prod-001/: p50",
                 "with 50 slow clients /livez: p50", "slow clients connected: 50 before, 50 after",
                 "gunicorn without nginx /livez", "== slow-clients (sqlite): PASS"):
        assert part in output, f"the slow-clients drill's output lacks {part!r}:\n{output[-4000:]}"


def test_webhooks_prints_its_figures(smoke_runs):
    _, output, _ = smoke_runs["webhooks"]
    for part in ("receiver on http://127.0.0.1:", "registered A", "answered 500 for", "A drained",
                 "B disabled", "its backlog sent", "staff told", "event → first 2xx at A: median", "drain: ",
                 "B: disabled at", "== webhooks (sqlite): PASS"):
        assert part in output, f"the webhooks drill's output lacks {part!r}:\n{output[-4000:]}"


def test_every_run_had_a_store_of_its_own_and_removed_it(smoke_runs):
    stores = {}
    for name, (_, output, _) in smoke_runs.items():
        found = re.findall(r"(?:fresh store in|store in) (/\S+?)[,\s(]", output)
        assert found, f"{name} does not say where its store is:\n{output[-3000:]}"
        stores[name] = found
    folders = [folder for found in stores.values() for folder in found]
    assert len(set(folders)) == len(folders) == len(RUNS), stores
    passed = [folder for name, found in stores.items() for folder in found if smoke_runs[name][0] == 0]
    assert [folder for folder in passed if Path(folder).exists()] == [], "a run that passed left its folder behind"
    queues = [re.search(r"queue (h5\w+)", smoke_runs[name][1]).group(1) for name in RUNS if name != "bench"]
    assert len(set(queues)) == len(queues), queues
