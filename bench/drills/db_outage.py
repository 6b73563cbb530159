"""Database outage: the store's PostgreSQL is restarted (stopped fast, ~2 s down, started) during a
stream of checkouts and pipeline runs.

The drill runs a PostgreSQL cluster of its own: Debian's initdb and pg_ctl
(/usr/lib/postgresql/<version>/bin), as the `postgres` user when the drill runs as root
(PostgreSQL refuses to run as root), on a free port with a temp data directory, removed at the
end (kept with --keep-failed when the drill failed). gunicorn and a qcluster (Redis broker, the
bench's Redis with keys of the run's own) point at it; the providers answer with the seed's
latencies, and the sweeper keeps production's settings, so it rescues nothing within the drill.

First the baseline: orders placed one at a time, each waited for, placement → terminal. Then
checkout clients (POST /api/orders, an Idempotency-Key per purchase, retried with the same key on
a dropped connection or a 5xx after its Retry-After, at most 1 s) and a browsing client (/, a
product page, GET /api/products) run while `pg_ctl stop -m fast`, ~2 s, `pg_ctl start`.

Passes when: no request answered 500 (or any 5xx but a 503 with Retry-After); every order placed
before the database came back is terminal within 3× the baseline order time (median) after it
came back; every order ends terminal; nothing is charged, refunded or shipped twice and the stock
adds up (the GatewayCall ledger, as in the crash drill).
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

from bench.drills.common import CARD_APPROVE, Outcome, call, new_key, order_body, say
from bench.env import Backend, django_side, scratch_dir
from bench.procs import free_port, store_start

PRODUCT = "prod-008"  # the bench's product with a stock of 10⁹: every purchase can succeed
DOWN_SECONDS = 2.0
LIMIT_FACTOR = 3  # orders end within this many baseline order times after the database is back
EVENTUALLY_SECONDS = 180
DRILL_ENV = {
    "SIM_LATENCY_SCALE": "1",  # the seed's provider latencies: an order takes about a second, as in production
    "PIPELINE_BACKOFF_SCALE": "1",
    "Q_WORKERS": "2",
}
BROWSE = ["/", "/products/prod-001/", "/api/products"]


def postgres_bin() -> Path:
    """Debian's newest PostgreSQL server binaries."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise SystemExit("the db-outage drill needs PostgreSQL's server binaries (apt-get install postgresql)")
    return found[-1].parent


class OwnPostgres:
    """A PostgreSQL cluster of the drill's own on 127.0.0.1:<port>, data and socket in `directory`."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        self.data = directory / "data"
        self.log_path = directory / "postgres.log"
        self.bin = postgres_bin()
        # PostgreSQL refuses to run as root: as root, it runs as the system's `postgres` user.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run([*self.as_user, str(self.bin / args[0]), *args[1:]], capture_output=True, text=True,
                                timeout=timeout, cwd=self.directory)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stdout}\n{result.stderr}\n"
                               f"{self.log_path.read_text(errors='replace')[-2000:] if self.log_path.exists() else ''}")

    def init(self) -> None:
        if self.as_user:
            shutil.chown(self.directory, user="postgres", group="postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
                  "--no-sync")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-w", "-t", "60", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def stop_if_running(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"  (PostgreSQL on port {self.port} not stopped: {exc})", flush=True)


def run(backend_name: str = "postgres", *, quick: bool = False) -> Outcome:
    if backend_name != "postgres":
        raise SystemExit("the db-outage drill needs --backend=postgres (it restarts a PostgreSQL of its own)")
    workdir = scratch_dir("h5drill-db-pgdata-")
    postgres = OwnPostgres(workdir, free_port())
    backend = Backend.make(backend_name, tag="drill-db")
    try:
        postgres.init()
        postgres.start()
        return _drill(backend, quick, postgres)
    finally:
        postgres.stop_if_running()


def _drill(backend: Backend, quick: bool, postgres: OwnPostgres) -> Outcome:
    baseline_n = 4 if quick else 10
    before, after = (2.0, 3.0) if quick else (4.0, 6.0)
    (checkout_clients, pause) = (2, 0.5) if quick else (4, 0.3)
    outcome = Outcome("db-outage")
    backend.postgres_server = postgres.url
    backend.overrides.update(DRILL_ENV)
    backend.reset()
    say(f"store in {backend.data_dir}, queue {backend.cluster_name}; its own PostgreSQL "
        f"({postgres.bin.parent.name}) on port {postgres.port}, run as {'postgres' if postgres.as_user else 'this user'}")
    setup = django_side(backend, "setup", {"delivered_order": False})
    token = setup["customer"]["jwt"]
    initial_stock = setup["stock"]

    server, cluster = store_start(backend)
    url = server.url

    lock = threading.Lock()
    stop_traffic = threading.Event()
    phase = ["baseline"]
    statuses: Counter = Counter()  # (phase, status)
    failures: list[str] = []  # 5xx other than 503 + Retry-After
    answered: dict[str, list] = {}  # key -> [(status, order id)]
    slowest: dict[str, float] = {}  # phase → the slowest answer's seconds

    def record(kind: str, path: str, reply, began: str) -> None:
        with lock:
            statuses[(began, reply.status)] += 1
            slowest[began] = max(slowest.get(began, 0.0), reply.seconds)
            if reply.status >= 500 and not (reply.status == 503 and reply.headers.get("retry-after")):
                failures.append(f"{began}: {kind} {path} → {reply.status} {str(reply.body)[:200]}")

    def purchase() -> None:
        key = new_key("db-outage")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            began = phase[0]
            reply = call(url, "POST", "/api/orders", token=token, body=order_body({PRODUCT: 1}, card=CARD_APPROVE),
                         headers={"Idempotency-Key": key}, timeout=30)
            record("checkout", "POST /api/orders", reply, began)
            with lock:
                answered.setdefault(key, []).append((reply.status, (reply.body or {}).get("id")))
            if 200 <= reply.status < 300 or 400 <= reply.status < 500:
                return
            retry_after = reply.headers.get("retry-after", "")
            time.sleep(min(1.0, float(retry_after)) if retry_after.isdigit() else 0.2)

    def checkout() -> None:
        while not stop_traffic.is_set():
            purchase()
            stop_traffic.wait(pause)

    def browse() -> None:
        i = 0
        while not stop_traffic.is_set():
            path = BROWSE[i % len(BROWSE)]
            i += 1
            began = phase[0]
            record("browse", path, call(url, "GET", path, timeout=30), began)
            time.sleep(0.1)

    def overview() -> list[dict]:
        return django_side(backend, "orders_overview", {})["orders"]

    try:
        # --- baseline: one order at a time, placement → terminal --------------------------------
        baseline_times = []
        for _ in range(baseline_n):
            purchase()
            while True:
                latest = max(overview(), key=lambda o: o["id"])
                if latest["terminal"]:
                    baseline_times.append(latest["updated"] - latest["created"])
                    break
                time.sleep(0.05)
        baseline = statistics.median(baseline_times)
        limit = LIMIT_FACTOR * baseline
        say(f"baseline: {baseline_n} orders one at a time, placement → terminal median {baseline:.2f} s, "
            f"max {max(baseline_times):.2f} s; limit after the database is back: {LIMIT_FACTOR} × {baseline:.2f} "
            f"= {limit:.2f} s")

        # --- the outage -----------------------------------------------------------------------------
        phase[0] = "before"
        threads = [threading.Thread(target=checkout, daemon=True) for _ in range(checkout_clients)]
        threads.append(threading.Thread(target=browse, daemon=True))
        for thread in threads:
            thread.start()
        say(f"{checkout_clients} checkout clients (Idempotency-Key, retried after Retry-After), 1 browsing; "
            f"restart in {before:.0f} s")
        time.sleep(before)
        phase[0] = "down"
        stopping = time.time()
        postgres.stop("fast")
        stopped = time.time()
        time.sleep(max(0.0, DOWN_SECONDS - (time.time() - stopped)))
        postgres.start()
        back = time.time()
        phase[0] = "back"
        say(f"PostgreSQL stopped (fast) in {stopped - stopping:.2f} s, down {back - stopped:.2f} s, "
            f"accepting connections again")
        time.sleep(after)
        stop_traffic.set()
        for thread in threads:
            thread.join(120)

        # --- recovery -------------------------------------------------------------------------------
        def wait_terminal(created_before: float | None, until: float) -> tuple[bool, float, list[dict]]:
            while True:
                orders = [o for o in overview() if created_before is None or o["created"] < created_before]
                working = [o for o in orders if not o["terminal"]]
                if not working:  # in time when the last of them ended within the limit
                    last = max((o["updated"] for o in orders), default=back)
                    return last - back <= limit or created_before is None, last - back, orders
                if time.time() > until:
                    return False, time.time() - back, orders
                time.sleep(0.2)

        in_time, last_s, placed_before = wait_terminal(back, back + limit)
        working = sum(not o["terminal"] for o in placed_before)
        say(f"orders placed before the database came back: {len(placed_before)}; " +
            (f"{working} still working {last_s:.1f} s after it came back" if working
             else f"all terminal {last_s:.2f} s after it came back"))
        all_done, all_s, every = wait_terminal(None, time.time() + (30 if quick else EVENTUALLY_SECONDS))
        states = Counter(o["state"] for o in every)
        say(f"all {len(every)} orders terminal: {all_done} ({all_s:.1f} s after the database came back); "
            f"states {dict(states)}")
    finally:
        stop_traffic.set()
        cluster.stop()
        server.stop()

    # --- figures --------------------------------------------------------------------------------
    retried = cluster.log_path.read_text(errors="replace").count("could not reach the database or the broker")
    by_status = Counter()
    for (_phase, status), count in statuses.items():
        by_status[status] += count
    say("requests by status: " + ", ".join(f"{s or 'no answer'}: {n}" for s, n in sorted(by_status.items())) +
        " | " + "; ".join(f"{p} {s or 'no answer'}: {n}" for (p, s), n in sorted(statuses.items())))
    say("slowest answer: " + ", ".join(f"{p} {seconds:.2f} s" for p, seconds in slowest.items()))
    say(f"pipeline runs that lost the database and went again: {retried}")
    found = django_side(backend, "orders_by_key", {"keys": list(answered)})
    by_key = found["by_key"]
    doubled = {key: ids for key, ids in by_key.items() if len(ids) > 1}
    never = [key for key, tries in answered.items() if not any(200 <= status < 300 for status, _ in tries)]
    audit = django_side(backend, "audit", {"initial_stock": initial_stock})
    say(f"{len(answered)} purchases, {found['orders_total']} orders, {audit['charges']} charges, "
        f"{audit['refunds']} refunds")

    outcome.check(not failures, f"no 500 (no 5xx but a 503 with Retry-After): {len(failures)}; "
                                f"503s: {by_status.get(503, 0)}" + ("" if not failures else ": " + " | ".join(failures[:5])))
    outcome.check(in_time, f"the {len(placed_before)} orders placed before the database came back were terminal "
                           f"{last_s:.2f} s after it (limit {LIMIT_FACTOR} × baseline {baseline:.2f} s = {limit:.2f} s)")
    outcome.check(all_done, f"every order terminal ({len(every)})")
    outcome.check(not doubled and not never, f"one order per purchase ({len(doubled)} made two, "
                                             f"{len(never)} never answered 2xx)")
    outcome.check(not audit["problems"], "nothing charged, refunded or shipped twice; stock adds up"
                  + ("" if not audit["problems"] else ": " + "; ".join(audit["problems"][:5])))
    outcome.facts = {
        "baseline_median_s": round(baseline, 2), "baseline_max_s": round(max(baseline_times), 2),
        "limit_s": round(limit, 2), "down_s": round(back - stopped, 2), "terminal_after_back_s": round(last_s, 2),
        "orders_placed_before_back": len(placed_before), "orders": len(every), "requests_by_status": dict(by_status),
        "failures": failures[:20], "pipeline_retries": retried, "charges": audit["charges"],
    }
    return outcome
