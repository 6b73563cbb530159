"""Broker outage: the store's own Redis (cache, rate limits and django-q2's broker) is killed
(-9) during a stream of traffic and started again on the same port, then frozen (SIGSTOP) and
thawed (SIGCONT).

The drill starts a redis-server of its own on a free port (no persistence: a kill loses the
queue, as a crashed Redis without AOF would), and points gunicorn and the qcluster at it; the
shared Redis of the machine is never touched. Traffic meanwhile: checkout clients (POST
/api/orders, an Idempotency-Key per purchase, retried with the same key on a dropped connection
or a 5xx), storefront pages and API reads (/, a product page, /api/products, /api/orders), and a
thread that polls /livez every 25 ms. While Redis is down and while it is frozen the drill asks
/readyz and /healthz what they see.

Passes when: no 5xx other than a 503 with Retry-After (those are counted apart); every purchase
made exactly one order; every order is terminal within 30 s after Redis came back (the store's
own recovery: the drill never runs the sweeper, and the sweeper's settings are production's);
every /livez poll answered 200, and in each phase after the baseline (Redis killed, restarted,
frozen, thawed) /livez's p99 stayed within 3× the baseline phase's p99 + 25 ms and its slowest
answer within 3× the baseline's slowest + 1 s, both measured in the same run (--quick, the smoke
form that runs beside the other drills: p99 within 3× + 600 ms);
/healthz said the broker was down while it was.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

from bench.drills.common import Outcome, call, new_key, order_body, say
from bench.env import Backend, django_side, scratch_dir
from bench.procs import free_port, store_start

PRODUCT = "prod-008"  # the bench's product with a stock of 10⁹: every purchase can succeed
RECOVERY_SECONDS = 30
# When they are not, the full run keeps watching this long (a figure: when the sweeper ended them).
EVENTUALLY_SECONDS = 300
# /livez in each later phase against the baseline phase of the same run: p99 within
# P99_FACTOR × the baseline p99 + a floor, the slowest within MAX_FACTOR × the baseline's slowest
# + a floor (ms). Polled every 25 ms, a phase of 5 s holds ~200 polls, so its p99 is not its
# slowest answer. The max floor is above one REDIS_TIMEOUT (0.5 s): when Redis freezes, requests
# waiting on it hold gunicorn's threads for that long once, and /livez may queue behind them; a
# /livez held for seconds fails. The p99 floor keeps a baseline of a few ms from turning a
# scheduler's hiccup into a failure; the smoke form (--quick) runs beside every other drill with
# phases of 1.5–2 s, so there the p99 floor, too, allows one such wait.
LIVEZ_P99_FACTOR, LIVEZ_MAX_FACTOR = 3, 3
LIVEZ_FLOORS_MS = {False: (25, 1000), True: (600, 1000)}  # quick → (p99 floor, max floor)
LIVEZ_PHASES = ("killed", "restarted", "frozen", "thawed")
LIVEZ_EVERY = 0.025
DRILL_ENV = {
    "SIM_LATENCY_SCALE": "0.05",  # orders take ~50 ms of provider time: some are in flight at each blow
    "PIPELINE_BACKOFF_SCALE": "0.05",
    "Q_WORKERS": "2",
    # The rate limits are on (they live in Redis), high enough never to refuse the drill's clients.
    "RATE_LIMIT_API": "100000/min",
    "RATE_LIMIT_API_BURST": "100000/10s",
}
BROWSE = ["/", "/products/prod-001/", "/api/products", "/api/orders"]


class OwnRedis:
    """A redis-server of the drill's own on 127.0.0.1:<port>, without persistence, in a temp dir."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        self.process: subprocess.Popen | None = None
        self.log_path = directory / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--logfile", str(self.log_path), "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited ({self.process.returncode}): "
                                   f"{self.log_path.read_text(errors='replace')[-2000:]}")
            if self.ping():
                return
            time.sleep(0.02)
        raise RuntimeError(f"redis-server on port {self.port} did not answer PING within {timeout} s")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signum)

    def kill(self) -> None:
        if self.process is not None:
            self.signal(signal.SIGCONT)  # a frozen one too
            self.signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))] if values else 0.0


def run(backend_name: str = "postgres", *, quick: bool = False) -> Outcome:
    if backend_name != "postgres":
        raise SystemExit("the broker-outage drill needs --backend=postgres (Redis is the broker there)")
    # Folders, database and queue name of this run's own (bench.env), and a redis-server of its own.
    workdir = scratch_dir("h5drill-broker-redis-")
    redis = OwnRedis(workdir, free_port())
    backend = Backend.make(backend_name, tag="drill-broker")
    try:
        redis.start()
        return _drill(backend, quick, redis)
    finally:
        redis.kill()
        backend.drop()  # again, if the drill crashed before it did (IF EXISTS)


def _drill(backend: Backend, quick: bool, redis: OwnRedis) -> Outcome:
    baseline, down, frozen, after = (1.5, 3.0, 2.0, 1.0) if quick else (5.0, 10.0, 5.0, 5.0)
    # Purchases are paced below what the two workers get through (a backlog would say nothing
    # about the outage): each checkout client waits `pause` seconds between two purchases.
    (checkout_clients, pause), browse_clients = ((2, 0.5), 1) if quick else ((4, 1.0), 2)
    browse_pause = 0.2 if quick else 0.05
    outcome = Outcome("broker-outage")
    backend.redis_server = redis.url
    backend.reset()
    say(f"store in {backend.data_dir}, queue {backend.cluster_name}")
    backend.overrides.update(DRILL_ENV)
    setup = django_side(backend, "setup", {"delivered_order": False})
    token = setup["customer"]["jwt"]
    say(f"{backend.label} (its own redis-server on port {redis.port}, database {backend.database}): "
        f"{checkout_clients} checkout clients (Idempotency-Key, retried on failure), {browse_clients} browsing, "
        f"/livez every {LIVEZ_EVERY * 1000:.0f} ms; Redis kill -9 for {down:.0f} s, restart, later SIGSTOP for "
        f"{frozen:.0f} s, SIGCONT")

    lock = threading.Lock()
    stop_traffic = threading.Event()
    stop_livez = threading.Event()
    phase = ["baseline"]
    statuses: Counter = Counter()  # (kind, status)
    failures: list[str] = []  # 5xx other than 503 + Retry-After, and 503s without it
    answered: dict[str, list] = {}  # key -> [(status, order id)]
    livez: list[tuple[str, float, int]] = []  # (phase, ms, status)
    probes: list[dict] = []

    server, cluster = store_start(backend)
    url = server.url

    slowest: dict[tuple[str, str], float] = {}  # (phase, path) → the slowest answer's seconds

    def record(kind: str, path: str, reply, began: str) -> None:
        """One answer; `began`: the phase its request was sent in."""
        with lock:
            statuses[(kind, reply.status)] += 1
            slowest[(began, path)] = max(slowest.get((began, path), 0.0), reply.seconds)
            if reply.status >= 500 and not (reply.status == 503 and reply.headers.get("retry-after")):
                failures.append(f"{began}: {kind} {path} → {reply.status} {str(reply.body)[:200]}")

    def checkout() -> None:
        while not stop_traffic.is_set():
            key = new_key("outage")
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                began = phase[0]
                reply = call(url, "POST", "/api/orders", token=token, body=order_body({PRODUCT: 1}),
                             headers={"Idempotency-Key": key}, timeout=30)
                record("checkout", "POST /api/orders", reply, began)
                with lock:
                    answered.setdefault(key, []).append((reply.status, (reply.body or {}).get("id")))
                if 200 <= reply.status < 300 or 400 <= reply.status < 500:
                    break
                retry_after = reply.headers.get("retry-after", "")
                time.sleep(min(1.0, float(retry_after)) if retry_after.isdigit() else 0.2)
            stop_traffic.wait(pause)

    def browse(offset: int) -> None:
        i = offset
        while not stop_traffic.is_set():
            path = BROWSE[i % len(BROWSE)]
            i += 1
            began = phase[0]
            reply = call(url, "GET", path, token=token if path.startswith("/api/") else None, timeout=30)
            record("browse", path, reply, began)
            time.sleep(browse_pause)

    def poll_livez() -> None:
        while not stop_livez.is_set():
            started, began = time.monotonic(), phase[0]
            reply = call(url, "GET", "/livez", timeout=5)
            with lock:
                livez.append((began, reply.seconds * 1000, reply.status))
            time.sleep(max(0.0, LIVEZ_EVERY - (time.monotonic() - started)))

    def probe(label: str) -> threading.Thread:
        """Ask /readyz and /healthz (at once, on a thread of their own: a frozen Redis holds /healthz)."""
        def ask(path: str) -> None:
            reply = call(url, "GET", path, timeout=30)
            with lock:
                probes.append({"when": label, "path": path, "status": reply.status,
                               "seconds": round(reply.seconds, 2), "body": reply.body})
            say(f"{label}: {path} → {reply.status} in {reply.seconds:.2f} s {reply.body}")

        asking = [threading.Thread(target=ask, args=(path,), daemon=True) for path in ("/readyz", "/healthz")]
        for thread in asking:
            thread.start()
        waiter = threading.Thread(target=lambda: [t.join(60) for t in asking], daemon=True)
        waiter.start()
        return waiter

    def overview() -> list[dict]:
        return django_side(backend, "orders_overview", {})["orders"]

    windows: dict[str, tuple[float, float]] = {}  # "Redis killed" / "Redis frozen" → (from, to), wall clock

    def when_placed(order: dict) -> str:
        for name, (start, end) in windows.items():
            if start <= order["created"] <= end:
                return f"placed while {name}"
        return "placed while Redis answered"

    def wait_terminal(since_wall: float, created_before: float | None,
                      limit: float = RECOVERY_SECONDS) -> tuple[bool, float, int]:
        """Wait until every order (created before `created_before`, or all) is terminal, at most
        `limit` seconds after `since_wall`: (all terminal, seconds after since_wall, orders looked at)."""
        while True:
            orders = [o for o in overview() if created_before is None or o["created"] < created_before]
            working = [o for o in orders if not o["terminal"]]
            now = time.time()
            if not working:
                last = max((o["updated"] for o in orders), default=since_wall)
                return True, max(0.0, last - since_wall), len(orders)
            if now - since_wall > limit:
                say(f"still working {now - since_wall:.0f} s after Redis came back: {len(working)} of {len(orders)} "
                    f"orders, states {dict(Counter(o['state'] for o in working))}, "
                    f"{dict(Counter(when_placed(o) for o in working))}; e.g. ids {[o['id'] for o in working[:8]]}")
                return False, now - since_wall, len(orders)
            time.sleep(0.5)

    threads = [threading.Thread(target=checkout, daemon=True) for _ in range(checkout_clients)]
    threads += [threading.Thread(target=browse, args=(i,), daemon=True) for i in range(browse_clients)]
    livez_thread = threading.Thread(target=poll_livez, daemon=True)
    livez_thread.start()
    for thread in threads:
        thread.start()
    results = {}
    try:
        time.sleep(baseline)
        probe("Redis up").join(60)

        phase[0] = "killed"
        redis.kill()
        killed_at = time.time()
        say(f"Redis kill -9 (port {redis.port}); traffic goes on for {down:.0f} s")
        time.sleep(min(2.0, down / 2))
        probing = probe("Redis killed")
        time.sleep(max(0.0, down - (time.time() - killed_at)))
        redis.start()
        back = time.time()
        windows["Redis killed"] = (killed_at, back)
        probing.join(60)
        phase[0] = "restarted"
        say(f"Redis started again on port {redis.port} after {back - killed_at:.1f} s")
        ok, seconds, n = wait_terminal(back, created_before=back)
        results["kill"] = (ok, seconds, n)
        say(f"orders placed up to the restart: {n}, all terminal: {ok}, {seconds:.1f} s after Redis came back")

        phase[0] = "frozen"
        redis.signal(signal.SIGSTOP)
        frozen_at = time.time()
        say(f"Redis SIGSTOP; traffic goes on for {frozen:.0f} s")
        time.sleep(min(1.0, frozen / 3))
        probing = probe("Redis frozen")
        time.sleep(max(0.0, frozen - (time.time() - frozen_at)))
        redis.signal(signal.SIGCONT)
        thawed = time.time()
        windows["Redis frozen"] = (frozen_at, thawed)
        probing.join(60)
        phase[0] = "thawed"
        say(f"Redis SIGCONT after {thawed - frozen_at:.1f} s")
        time.sleep(after)
        stop_traffic.set()
        for thread in threads:
            thread.join(120)
        probe("after").join(60)
        ok, seconds, n = wait_terminal(thawed, created_before=None)
        results["stop"] = (ok, seconds, n)
        say(f"all {n} orders terminal: {ok}, {seconds:.1f} s after SIGCONT")
        if not ok and not quick:  # a figure, not a check: when did the store's own recovery end them?
            eventually, seconds, _ = wait_terminal(thawed, created_before=None, limit=EVENTUALLY_SECONDS)
            results["eventually"] = round(seconds, 1) if eventually else None
            say(f"watching on: every order terminal {seconds:.1f} s after SIGCONT" if eventually
                else f"orders still working {seconds:.0f} s after SIGCONT")
    finally:
        stop_traffic.set()
        stop_livez.set()
        livez_thread.join(10)
        redis.signal(signal.SIGCONT)
        cluster.stop()
        server.stop()

    # --- figures ---------------------------------------------------------------------------
    by_status = Counter()
    for (_kind, status), count in statuses.items():
        by_status[status] += count
    say("requests by status: " + ", ".join(f"{s or 'no answer'}: {n}" for s, n in sorted(by_status.items())) +
        " | " + "; ".join(f"{kind} {s or 'no answer'}: {n}" for (kind, s), n in sorted(statuses.items())))
    for name in ("baseline", "killed", "restarted", "frozen", "thawed"):
        row = {path: seconds for (p, path), seconds in slowest.items() if p == name}
        if row:
            say(f"slowest answers while {name}: " + ", ".join(f"{path} {seconds:.2f} s" for path, seconds in row.items()))
    keys = list(answered)
    found = django_side(backend, "orders_by_key", {"keys": keys})
    by_key = found["by_key"]
    doubled = {key: ids for key, ids in by_key.items() if len(ids) > 1}
    ok_ids = {key: {oid for status, oid in tries if 200 <= status < 300} for key, tries in answered.items()}
    never = [key for key, ids in ok_ids.items() if not ids]
    lost = [key for key, ids in ok_ids.items() if ids and not ids <= set(by_key.get(key, []))]
    attempts = sum(len(t) for t in answered.values())
    say(f"{len(keys)} purchases in {attempts} checkout requests; {found['orders_total']} orders in the database")
    livez_ms = [ms for _, ms, _ in livez]
    livez_bad = [entry for entry in livez if entry[2] != 200]
    per_phase = {}
    for name in ("baseline", "killed", "restarted", "frozen", "thawed"):
        values = [ms for p, ms, _ in livez if p == name]
        if values:
            per_phase[name] = (len(values), max(values), _percentile(values, 99))
    say(f"/livez: {len(livez_ms)} polls, max {max(livez_ms, default=0):.1f} ms, p99 {_percentile(livez_ms, 99):.1f} ms; "
        + ", ".join(f"{name} n={n} max {mx:.1f} p99 {p99:.1f}" for name, (n, mx, p99) in per_phase.items()))
    n503 = by_status.get(503, 0)

    outcome.check(not failures, f"no 5xx other than 503 with Retry-After ({len(failures)}; 503s: {n503})"
                  + ("" if not failures else ": " + " | ".join(failures[:5])))
    outcome.check(not doubled, f"no purchase made two orders ({len(doubled)} did)")
    outcome.check(not never and not lost, f"every purchase got its 2xx and its order exists "
                                          f"({len(never)} never answered 2xx, {len(lost)} answered but missing)")
    outcome.check(found["orders_total"] == len(by_key) == len(keys) - len(never),
                  f"one order per purchase: {len(keys)} purchases, {found['orders_total']} orders")
    ok_kill, s_kill, n_kill = results.get("kill", (False, 0.0, 0))
    outcome.check(ok_kill, f"the {n_kill} orders placed before Redis came back from kill -9 were terminal "
                           f"{s_kill:.1f} s after (limit {RECOVERY_SECONDS} s)")
    ok_stop, s_stop, n_stop = results.get("stop", (False, 0.0, 0))
    outcome.check(ok_stop, f"all {n_stop} orders terminal {s_stop:.1f} s after SIGCONT (limit {RECOVERY_SECONDS} s)")
    p99_floor, max_floor = LIVEZ_FLOORS_MS[quick]
    base_n, base_max, base_p99 = per_phase.get("baseline", (0, 0.0, 0.0))
    p99_limit = LIVEZ_P99_FACTOR * base_p99 + p99_floor
    max_limit = LIVEZ_MAX_FACTOR * base_max + max_floor
    over = {name: (round(p99, 1), round(mx, 1)) for name, (_n, mx, p99) in per_phase.items()
            if name in LIVEZ_PHASES and (p99 > p99_limit or mx > max_limit)}
    outcome.check(base_n and all(name in per_phase for name in LIVEZ_PHASES) and not over,
                  f"/livez within its baseline in every phase: baseline p99 {base_p99:.1f} ms, max {base_max:.1f} ms "
                  f"({base_n} polls); limits p99 {LIVEZ_P99_FACTOR}× + {p99_floor} = {p99_limit:.1f} ms, max "
                  f"{LIVEZ_MAX_FACTOR}× + {max_floor} = {max_limit:.1f} ms"
                  + (f"; over (p99, max): {over}" if over else ""))
    outcome.check(livez_ms and not livez_bad,
                  f"/livez answered 200 to every poll: {len(livez_ms)} polls, {len(livez_bad)} not 200"
                  + (f": {livez_bad[:10]}" if livez_bad else ""))
    down_probes = [p for p in probes if p["when"] in ("Redis killed", "Redis frozen")]
    broker_down = [p for p in down_probes if p["path"] == "/healthz"]
    outcome.check(broker_down and all(p["status"] == 503 and (p["body"] or {}).get("checks", {}).get("broker", "ok")
                                      != "ok" for p in broker_down),
                  "/healthz said 503, broker down, while Redis was killed and while it was frozen: "
                  + "; ".join(f"{p['when']} {p['status']} {(p['body'] or {}).get('checks')} in {p['seconds']} s"
                              for p in broker_down))
    readyz = [p for p in down_probes if p["path"] == "/readyz"]
    say("/readyz meanwhile (database and migrations only): "
        + "; ".join(f"{p['when']} {p['status']} {(p['body'] or {}).get('status')} in {p['seconds']} s" for p in readyz))

    outcome.facts = {
        "requests_by_status": dict(by_status), "purchases": len(keys), "checkout_requests": attempts,
        "orders": found["orders_total"], "duplicates": len(doubled), "failures": failures[:20], "503s": n503,
        "livez_max_ms": round(max(livez_ms, default=0), 1), "livez_p99_ms": round(_percentile(livez_ms, 99), 1),
        "livez_polls": len(livez_ms), "livez_by_phase": per_phase,
        "livez_limits_ms": {"p99": round(p99_limit, 1), "max": round(max_limit, 1)},
        "slowest_s": {f"{p} {path}": round(seconds, 2) for (p, path), seconds in slowest.items()},
        "terminal_after_restart_s": round(s_kill, 1), "terminal_after_sigcont_s": round(s_stop, 1),
        "terminal_eventually_after_sigcont_s": results.get("eventually"),
        "probes": [{k: v for k, v in p.items()} for p in probes],
    }
    # The database goes now; the folders (logs) when the drill is over (bench.drills' --keep-failed).
    backend.drop()
    return outcome
