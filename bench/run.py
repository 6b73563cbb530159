"""`make bench`: HTTP, order placement, pipeline throughput (latency 0, and with the seed's latencies
on the default cluster) and latency, queries per request.

    python -m bench [--backend=sqlite|postgres|all] [--quick] [--load=wrk|python] [--only=...]

For each backend it builds a fresh store (a new temp folder, and a database, queue name and Redis
key prefix of its own, all removed at the end; --keep-failed keeps a failed run's folder),
starts gunicorn (DEBUG off) and, for the pipeline, `manage.py qcluster`, and drives them from
separate processes (wrk, or the pure-Python generator with --quick). Results go to
bench/results/<backend>-<timestamp>.json (and latest-<backend>.json); a table is printed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench.env import BASE_DIR, RESULTS_DIR, Backend, discard_stores, django_side
from bench.load import Target, ensure_wrk, request, run_load
from bench.procs import (
    Cluster,
    ConnectionSampler,
    RssSampler,
    Server,
    group_cpu_seconds,
    group_pids,
    machine_cpu_seconds,
    process_cpu_seconds,
)

SHIPPING = {"address": "1 Market Street", "city": "Springfield", "state": "IL", "zip": "62701"}
PARTS = ("queries", "http", "placement", "throughput", "throughput-latency", "latency")

# Targets, reported against the floor (/livez on the same gunicorn).
TARGET_PAGE_RATIO = 0.5
TARGET_POST_P99_MS = 50
TARGET_OVERHEAD_P50_MS = {"postgres": 30, "sqlite": 250}
TARGET_THROUGHPUT_2W = 100
# The pipeline with the seed's provider latencies and the default cluster (throughput-latency).
TARGET_THROUGHPUT_LATENCY = 40
TARGET_CLUSTER_RSS_MB = 600


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "kernel": platform.release()}


def background_load(seconds: float = 1.0) -> dict:
    """How busy the machine is before we start (other people's work skews every number)."""
    before = machine_cpu_seconds()
    time.sleep(seconds)
    busy = (machine_cpu_seconds() - before) / seconds / (os.cpu_count() or 1)
    return {"busy_fraction": round(busy, 3), "loadavg": Path("/proc/loadavg").read_text().split()[:3]}


def git_commit() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BASE_DIR, capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


class Bench:
    def __init__(self, backend: Backend, options: argparse.Namespace) -> None:
        self.backend = backend
        self.o = options
        self.results: dict = {"parts": {}}
        self.setup: dict = {}
        self.started = time.monotonic()

    def log(self, message: str) -> None:
        print(f"[{self.backend.name} {time.monotonic() - self.started:5.1f}s] {message}", flush=True)

    # --- what we hammer ---------------------------------------------------------------------

    def targets(self) -> dict[str, Target]:
        customer = self.setup["customer"]
        order_id = self.setup["order_id"]
        jwt = {"Authorization": f"Bearer {customer['jwt']}"}
        return {
            "floor /livez": Target("/livez"),
            "catalog /": Target("/"),
            "product /products/prod-001/": Target("/products/prod-001/"),
            "GET /api/products": Target("/api/products"),
            "order page /orders/<id>/": Target(f"/orders/{order_id}/", headers={"Cookie": f"sessionid={customer['session']}"}),
            "GET /api/orders/<id>": Target(f"/api/orders/{order_id}", headers=jwt),
        }

    def order_post(self) -> Target:
        return Target("/api/orders", method="POST",
                      headers={"Authorization": f"Bearer {self.setup['customer']['jwt']}"},
                      body={"items": [{"productId": self.setup["product"], "quantity": 1}], "shipping": SHIPPING,
                            "payment": {"card": "4242424242424242"}})

    # --- parts ---------------------------------------------------------------------------

    def run(self) -> dict:
        started = self.started = time.monotonic()
        load = background_load()
        self.log(f"fresh store in {self.backend.data_dir} ({self.backend.label}); machine busy "
                 f"{load['busy_fraction']:.0%} before we start, load average {' '.join(load['loadavg'])}"
                 + ("  -- NOT QUIET: numbers will be low and noisy" if load["busy_fraction"] > 0.15 else ""))
        self.backend.reset()
        self.setup = django_side(self.backend, "setup", {})
        self.results["meta"] = {
            "backend": self.backend.name, "label": self.backend.label,
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": git_commit(),
            "machine": machine(), "background_load_before": load, "quick": self.o.quick, "load_tool": self.o.load, "seconds": self.o.seconds,
            "gunicorn": {"workers": self.o.web_workers, "threads": self.o.web_threads, "class": "gthread"},
            "n": self.o.n, "workers": self.o.workers, "latency_n": self.o.latency_n, "tl_n": self.o.tl_n,
            "latency_interval_s": self.o.latency_interval, "latency_workers": self.o.latency_workers,
        }
        for part in PARTS:
            if part in self.o.only:
                getattr(self, f"part_{part.replace('-', '_')}")()
        self.results["meta"]["wall_seconds"] = round(time.monotonic() - started, 1)
        self.results["meta"]["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
        return self.results

    def part_queries(self) -> None:
        self.log("queries per request (django.test.Client + CaptureQueriesContext)")
        specs = [{"name": name, "path": t.path,
                  "auth": "session" if "Cookie" in t.headers else "jwt" if "Authorization" in t.headers else None}
                 for name, t in self.targets().items()]
        post = self.order_post()
        specs.append({"name": "POST /api/orders", "path": post.path, "method": "POST", "auth": "jwt", "body": post.body})
        queries = django_side(self.backend, "queries", {"requests": specs})
        queries["pipeline (one order)"] = django_side(self.backend, "pipeline_queries", {})
        self.results["parts"]["queries"] = queries

    def part_http(self) -> None:
        targets = self.targets()
        out: dict = {"status": {}, "runs": {}}
        with Server(self.backend, self.backend.env(), workers=self.o.web_workers, threads=self.o.web_threads) as server:
            for name, target in targets.items():
                status, _, _ = request(server.url, target)
                out["status"][name] = status
            self.log(f"gunicorn on {server.url}; first answers: {out['status']}")
            self._warm(server, targets.values())
            for connections in (1, 32):
                floor = self._load(server, targets["floor /livez"], connections)
                out["runs"][f"floor /livez@{connections}"] = floor
                for name, target in targets.items():
                    if name.startswith("floor"):
                        continue
                    run = self._load(server, target, connections)
                    run["ratio_to_floor"] = run["rps"] / floor["rps"] if floor["rps"] else None
                    run["status"] = out["status"][name]
                    out["runs"][f"{name}@{connections}"] = run
                    self.log(f"{name:32} c={connections:<2} {run['rps']:8.0f} req/s  p50 {run['p50_ms']:6.1f} ms  "
                             f"p99 {run['p99_ms']:6.1f} ms  x{run['ratio_to_floor']:.2f} of floor"
                             + (f"  ({run['non_2xx']} non-2xx)" if run["non_2xx"] else ""))
        self.results["parts"]["http"] = out

    def part_placement(self) -> None:
        target = self.order_post()
        out = {}
        with Server(self.backend, self.backend.env(), workers=self.o.web_workers, threads=self.o.web_threads) as server:
            self._warm(server, [target], seconds=min(1.0, self.o.seconds))
            for connections in (1, 32):
                run = self._load(server, target, connections)
                out[f"POST /api/orders@{connections}"] = run
                self.log(f"POST /api/orders c={connections:<2} {run['rps']:6.0f} orders/s  p50 {run['p50_ms']:6.1f} ms"
                         f"  p99 {run['p99_ms']:6.1f} ms" + (f"  ({run['non_2xx']} non-2xx)" if run["non_2xx"] else ""))
        # The placed orders wait in the queue (no worker ran): drop them before the pipeline runs.
        out["cleanup"] = django_side(self.backend, "cleanup", {"keep": [self.setup["order_id"]]})
        self.results["parts"]["placement"] = out

    def part_throughput(self) -> None:
        """The pipeline at latency 0 for each worker count: orders/s, against the floor and per worker
        process, the scaling to 1 worker, and the connections the cluster held against its pool's bound."""
        floor = self._floor()
        ports = self._server_ports()
        out = []
        for workers in self.o.workers:
            env = self.backend.env(Q_WORKERS=workers)
            with Cluster(self.backend, env) as cluster:
                pool = cluster.database_pool()
                warm = django_side(self.backend, "place", {"n": workers if self.o.quick else 2 * workers})
                django_side(self.backend, "throughput", {"order_ids": warm["order_ids"], "timeout": 120})
                processes = len(group_pids(cluster.pid))
                cpu0, machine0, wall0 = group_cpu_seconds(cluster.pid), machine_cpu_seconds(), time.monotonic()
                database0 = process_cpu_seconds(self.backend.database_pids())
                with RssSampler(cluster.pid) as rss, ConnectionSampler(cluster.pid, ports.values()) as connections:
                    placed = django_side(self.backend, "place", {"n": self.o.n})
                    result = django_side(self.backend, "throughput", {"order_ids": placed["order_ids"],
                                                                      "timeout": 600})
                cpu1, machine1, wall1 = group_cpu_seconds(cluster.pid), machine_cpu_seconds(), time.monotonic()
                database1 = process_cpu_seconds(self.backend.database_pids())
            n = self.o.n
            rate = result.get("orders_per_s")
            result.update(rss.summary())
            result.update({
                "workers": workers,
                "placement_per_s": n / placed["placement_seconds"],
                "cluster_cpu_ms_per_order": (cpu1 - cpu0) * 1000 / n,
                "machine_cpu_ms_per_order": (machine1 - machine0) * 1000 / n,
                "machine_busy_fraction": (machine1 - machine0) / ((wall1 - wall0) * (os.cpu_count() or 1)),
                # The server processes of the store's connections (placement's too), when it runs here;
                # a connection opened meanwhile counts from its start, one closed meanwhile not at all.
                "database_cpu_ms_per_order": (sum(t - database0.get(pid, 0) for pid, t in database1.items()) * 1000 / n
                                              if database1 else None),
                "floor_rps": floor["rps"], "floor_from": floor["from"],
                "ratio_to_floor": rate / floor["rps"] if rate and floor["rps"] else None,
                "orders_per_s_per_worker": rate / workers if rate else None,
                # Every process of the cluster (task processes and its own) has a pool of its own.
                "cluster_processes": processes, "db_pool": pool,
                "db_connections_bound": processes * pool["max_size"] if pool else None,
                "db_connections_peak": connections.peak.get(ports.get("database")),
                "redis_connections_peak": connections.peak.get(ports.get("redis")),
            })
            out.append(result)
            self.log(f"pipeline {workers} worker(s): {rate or 0:6.1f} orders/s placement→delivered "
                     f"({result.get('delivered')}/{n} delivered; placing ran at {result['placement_per_s']:.0f}/s), "
                     f"×{_fmt(result['ratio_to_floor'], '.4f')} of floor, {_fmt(result['orders_per_s_per_worker'], '.1f')} "
                     f"orders/s per worker; CPU per order: cluster {result['cluster_cpu_ms_per_order']:.1f} ms, PostgreSQL "
                     f"{_fmt(result['database_cpu_ms_per_order'], '.1f')} ms, machine {result['machine_cpu_ms_per_order']:.1f} ms "
                     f"(busy {result['machine_busy_fraction']:.0%}); "
                     f"cluster RSS peak {_fmt(result['rss_peak_mb'])} MB")
            self.log(f"  connections: {processes} cluster processes"
                     + (f" × pool {pool['min_size']}–{pool['max_size']} = at most {result['db_connections_bound']} "
                        "to the database" if pool else ", no database pool")
                     + "".join(f"; peak to {'PostgreSQL' if name == 'database' else 'Redis (no pool bound)'} "
                               f"{connections.peak[port]}" for name, port in ports.items()))
        one = next((t["orders_per_s"] for t in out if t["workers"] == 1 and t.get("orders_per_s")), None)
        for t in out:
            t["scaling"] = t["orders_per_s"] / (t["workers"] * one) if one and t.get("orders_per_s") else None
        self.log(f"pipeline scaling (orders/s at N ÷ (N × orders/s at 1), floor {floor['rps']:.0f} req/s from the "
                 f"{floor['from']}): " + ", ".join(f"{t['workers']} → {_fmt(t['scaling'], '.2f')}" for t in out))
        self.results["parts"]["throughput"] = out

    def _floor(self) -> dict:
        """/livez req/s at 32 connections: the http part's when it ran, else a run on a gunicorn of this store."""
        run = self.results["parts"].get("http", {}).get("runs", {}).get("floor /livez@32")
        if run:
            return {"rps": run["rps"], "from": "http part"}
        target = Target("/livez")
        with Server(self.backend, self.backend.env(), workers=self.o.web_workers, threads=self.o.web_threads) as server:
            self._warm(server, [target])
            run = self._load(server, target, 32)
        self.log(f"floor /livez c=32 {run['rps']:8.0f} req/s (for the pipeline's × floor)")
        return {"rps": run["rps"], "from": "throughput part"}

    def _server_ports(self) -> dict[str, int]:
        """The TCP ports of the store's PostgreSQL and Redis (none on SQLite)."""
        urls = {"database": (self.backend.database_url, 5432), "redis": (self.backend.redis_url, 6379)}
        return {name: urlsplit(url).port or default for name, (url, default) in urls.items() if url}

    def part_throughput_latency(self) -> None:
        """The pipeline as `make run` runs it: the seed's provider latencies (SIM_LATENCY_SCALE=1)
        and the default cluster (no Q_WORKERS or PIPELINE_CONCURRENT_RUNS set); N orders placed at
        once; orders/s and the cluster's memory, against the latency-0 throughput run of the same
        bench at the default worker count (run here too when the throughput part did not)."""
        n = self.o.tl_n
        env = self.backend.env(SIM_LATENCY_SCALE=1, PIPELINE_BACKOFF_SCALE=1)
        cluster_settings = django_side(self.backend, "cluster_settings", {}, env=env)
        workers = cluster_settings["workers"]
        self.log(f"pipeline with the seed's latencies: {n} orders placed at once, default cluster "
                 f"({workers} workers, concurrent runs {cluster_settings['concurrent_runs'] or '–'})")
        result = self._pipeline_run(env, n, warm=1 if self.o.quick else 2 * workers)
        zero = next((t for t in self.results["parts"].get("throughput", []) if t.get("workers") == workers), None)
        if zero is None:
            self.log(f"  (no latency-0 throughput run at {workers} workers yet: running one, {n} orders)")
            zero = self._pipeline_run(self.backend.env(), n, warm=workers)
            zero["workers"] = workers
            zero_source = "this part"
        else:
            zero_source = "throughput part"
        ratio = (result["orders_per_s"] / zero["orders_per_s"]
                 if result.get("orders_per_s") and zero.get("orders_per_s") else None)
        result.update({"cluster": cluster_settings, "latency_scale": 1,
                       "latency0": {"orders_per_s": zero.get("orders_per_s"), "n": zero.get("n"),
                                    "workers": workers, "rss_peak_mb": zero.get("rss_peak_mb"),
                                    "rss_end_mb": zero.get("rss_end_mb"), "from": zero_source},
                       "ratio_to_latency0": ratio,
                       "targets": {"orders_per_s": TARGET_THROUGHPUT_LATENCY, "rss_mb": TARGET_CLUSTER_RSS_MB}})
        self.results["parts"]["throughput-latency"] = result
        self.log(f"pipeline, seed latencies, default cluster: {_fmt(result.get('orders_per_s'), '.1f')} orders/s "
                 f"placement→delivered ({result.get('delivered')}/{n} delivered; target ≥ {TARGET_THROUGHPUT_LATENCY}); "
                 f"latency 0: {_fmt(zero.get('orders_per_s'), '.1f')} orders/s; ratio {_fmt(ratio, '.2f')}; "
                 f"cluster RSS peak {_fmt(result.get('rss_peak_mb'))} MB, end {_fmt(result.get('rss_end_mb'))} MB "
                 f"(target < {TARGET_CLUSTER_RSS_MB} MB)")

    def _pipeline_run(self, env: dict, n: int, *, warm: int) -> dict:
        """Start a cluster in `env`, warm it up, place `n` orders at once and time them to delivered,
        sampling the cluster's memory every 0.5 s."""
        with Cluster(self.backend, env) as cluster:
            warmed = django_side(self.backend, "place", {"n": warm}, env=env)
            django_side(self.backend, "throughput", {"order_ids": warmed["order_ids"], "timeout": 300}, env=env)
            cpu0 = group_cpu_seconds(cluster.pid)
            with RssSampler(cluster.pid) as rss:
                placed = django_side(self.backend, "place", {"n": n}, env=env)
                result = django_side(self.backend, "throughput", {"order_ids": placed["order_ids"], "timeout": 1200},
                                     env=env)
            cpu1 = group_cpu_seconds(cluster.pid)
        result.update(rss.summary())
        result.update({"placement_per_s": n / placed["placement_seconds"],
                       "cluster_cpu_ms_per_order": (cpu1 - cpu0) * 1000 / n})
        return result

    def part_latency(self) -> None:
        env = self.backend.env(Q_WORKERS=self.o.latency_workers, SIM_LATENCY_SCALE=1, PIPELINE_BACKOFF_SCALE=1)
        with Cluster(self.backend, env):
            warm = django_side(self.backend, "place", {"n": 1 if self.o.quick else 2}, env=env)
            django_side(self.backend, "latency", {"order_ids": warm["order_ids"], "timeout": 120}, env=env)
            placed = django_side(self.backend, "place", {"n": self.o.latency_n, "interval": self.o.latency_interval},
                                 env=env)
            result = django_side(self.backend, "latency", {"order_ids": placed["order_ids"], "timeout": 600}, env=env)
        result["workers"] = self.o.latency_workers
        self.results["parts"]["latency"] = result
        o = result["overhead_ms"]
        self.log(f"pipeline latency: elapsed p50 {result['elapsed_ms']['p50']:.0f} ms, floor p50 "
                 f"{result['floor_ms']['p50']:.0f} ms, overhead p50 {o['p50']:.1f} ms p95 {o['p95']:.1f} ms "
                 f"(first hop p50 {result['first_hop_ms']['p50']:.1f} ms)")

    # --- helpers -------------------------------------------------------------------------

    def _load(self, server: Server, target: Target, connections: int) -> dict:
        return run_load(self.o.load, server.url, target, connections=connections, seconds=self.o.seconds)

    def _warm(self, server: Server, targets, seconds: float | None = None) -> None:
        for target in targets:
            run_load("python", server.url, target, connections=4, seconds=seconds or min(0.5, self.o.seconds / 3))


# --- the table ------------------------------------------------------------------------------

def _fmt(value, spec: str = ".0f", none: str = "–") -> str:
    return none if value is None else format(value, spec)


def table(results: list[dict]) -> str:
    """Markdown tables of one or more backends' results (docs/performance.md)."""
    lines: list[str] = []
    metas = [r["meta"] for r in results]
    if metas:
        m = metas[0]["machine"]
        busy = ", ".join(f"{x['backend']} {x.get('background_load_before', {}).get('busy_fraction', 0):.0%}"
                         for x in metas)
        lines.append(f"Machine: {m['nproc']} CPU ({m['cpu']}), Python {m['python']}; {metas[0]['date']}; "
                     f"commit {metas[0]['commit']}; machine busy before the run (others' work): {busy}" + ("; QUICK RUN (tiny N, not representative)"
                                                        if any(x["quick"] for x in metas) else ""))
        lines.append("")
    http_rows = []
    for r in results:
        http = r["parts"].get("http")
        queries = r["parts"].get("queries", {})
        if not http:
            continue
        names = [k.rsplit("@", 1)[0] for k in http["runs"] if k.endswith("@1")]
        for name in names:
            one, many = http["runs"].get(f"{name}@1", {}), http["runs"].get(f"{name}@32", {})
            q = queries.get(name, {}).get("queries")
            status = http["status"].get(name)
            http_rows.append(
                f"| {r['meta']['backend']} | {name}{'' if status in (200, None) else f' (HTTP {status})'} "
                f"| {_fmt(one.get('rps'))} | {_fmt(one.get('p50_ms'), '.1f')} / {_fmt(one.get('p99_ms'), '.1f')} "
                f"| {_fmt(many.get('rps'))} | {_fmt(many.get('p50_ms'), '.1f')} / {_fmt(many.get('p99_ms'), '.1f')} "
                f"| {_fmt(many.get('ratio_to_floor'), '.2f', '1')} | {_fmt(q, 'd')} |")
    if http_rows:
        lines += ["| backend | endpoint | req/s @1 | p50 / p99 ms @1 | req/s @32 | p50 / p99 ms @32 | × floor @32 | queries |",
                  "|---|---|---:|---:|---:|---:|---:|---:|", *http_rows, ""]
    post_rows = []
    for r in results:
        placement = r["parts"].get("placement")
        if not placement:
            continue
        q = r["parts"].get("queries", {}).get("POST /api/orders", {}).get("queries")
        for c in (1, 32):
            run = placement.get(f"POST /api/orders@{c}", {})
            target = f" (target p99 < {TARGET_POST_P99_MS})" if c == 32 else ""
            post_rows.append(f"| {r['meta']['backend']} | {c} | {_fmt(run.get('rps'))} | {_fmt(run.get('p50_ms'), '.1f')} "
                             f"| {_fmt(run.get('p99_ms'), '.1f')}{target} | {_fmt(q, 'd')} |")
    if post_rows:
        lines += ["| backend | POST /api/orders connections | orders/s | p50 ms | p99 ms | queries |",
                  "|---|---:|---:|---:|---:|---:|", *post_rows, ""]
    pipe_rows = []
    for r in results:
        q = r["parts"].get("queries", {}).get("pipeline (one order)", {})
        for t in r["parts"].get("throughput", []):
            bound = t.get("db_connections_bound")
            bound = "–" if bound is None else f"{t['cluster_processes']} × {t['db_pool']['max_size']} = {bound}"
            pipe_rows.append(
                f"| {r['meta']['backend']} | {t['workers']} | {_fmt(t.get('orders_per_s'), '.1f')} "
                f"| {_fmt(t.get('ratio_to_floor'), '.4f')} | {_fmt(t.get('orders_per_s_per_worker'), '.1f')} "
                f"| {_fmt(t.get('scaling'), '.2f')} "
                f"| {t.get('delivered')}/{t.get('n')} | {_fmt(t.get('cluster_cpu_ms_per_order'), '.1f')} "
                f"| {_fmt(t.get('database_cpu_ms_per_order'), '.1f')} "
                f"| {_fmt(t.get('machine_cpu_ms_per_order'), '.1f')} | {_fmt(q.get('pipeline_queries'), 'd')} "
                f"| {_fmt(q.get('queue_hops'), 'd')} | {_fmt(t.get('rss_peak_mb'))} | {bound} "
                f"| {_fmt(t.get('db_connections_peak'), 'd')} | {_fmt(t.get('redis_connections_peak'), 'd')} |")
    if pipe_rows:
        lines += ["| backend | workers | orders/s (placement → delivered) | × floor @32 | orders/s per worker "
                  "| scaling to 1 worker | delivered | worker CPU ms/order | PostgreSQL CPU ms/order | machine CPU ms/order "
                  "| queries/order | queue hops/order | cluster RSS peak MB | DB connection bound (processes × pool max) "
                  "| DB connections peak | Redis connections peak |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", *pipe_rows, ""]
    tl_rows = []
    for r in results:
        tl = r["parts"].get("throughput-latency")
        if not tl:
            continue
        zero = tl.get("latency0", {})
        cluster = tl.get("cluster", {})
        tl_rows.append(
            f"| {r['meta']['backend']} | {cluster.get('workers')} × {cluster.get('concurrent_runs') or 1} "
            f"| {tl.get('delivered')}/{tl.get('n')} | {_fmt(tl.get('orders_per_s'), '.1f')} (target ≥ {TARGET_THROUGHPUT_LATENCY}) "
            f"| {_fmt(zero.get('orders_per_s'), '.1f')} | {_fmt(tl.get('ratio_to_latency0'), '.2f')} "
            f"| {_fmt(tl.get('rss_peak_mb'))} / {_fmt(tl.get('rss_end_mb'))} (target < {TARGET_CLUSTER_RSS_MB}) "
            f"| {_fmt(zero.get('rss_peak_mb'))} |")
    if tl_rows:
        lines += ["| backend | default cluster (workers × concurrent runs) | delivered | orders/s, seed latencies "
                  "| orders/s, latency 0 | ratio | cluster RSS peak / end MB | RSS peak MB, latency 0 |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|", *tl_rows, ""]
    lat_rows = []
    for r in results:
        lat = r["parts"].get("latency")
        if not lat or not lat.get("delivered"):
            continue
        target = TARGET_OVERHEAD_P50_MS.get(r["meta"]["backend"])
        lat_rows.append(
            f"| {r['meta']['backend']} | {lat['delivered']}/{lat['n']} | {_fmt(lat['elapsed_ms']['p50'])} / "
            f"{_fmt(lat['elapsed_ms']['p95'])} | {_fmt(lat['floor_ms']['p50'])} / {_fmt(lat['floor_ms']['p95'])} "
            f"| {_fmt(lat['overhead_ms']['p50'], '.1f')} / {_fmt(lat['overhead_ms']['p95'], '.1f')} (target p50 < {target}) "
            f"| {_fmt(lat['first_hop_ms']['p50'], '.1f')} |")
    if lat_rows:
        lines += ["| backend | orders | placement → delivered p50 / p95 ms | floor p50 / p95 ms "
                  "| overhead p50 / p95 ms | first queue hop p50 ms |",
                  "|---|---:|---:|---:|---:|---:|", *lat_rows, ""]
    return "\n".join(lines)


def save(result: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    backend = result["meta"]["backend"]
    suffix = "-quick" if result["meta"]["quick"] else ""
    path = RESULTS_DIR / f"{backend}{suffix}-{stamp}.json"
    text = json.dumps(result, indent=2, default=str)
    path.write_text(text)
    (RESULTS_DIR / f"latest-{backend}{suffix}.json").write_text(text)
    return path


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres", "all"])
    parser.add_argument("--quick", action="store_true", help="tiny N and short runs, pure-Python load (smoke test)")
    parser.add_argument("--load", choices=["wrk", "python"], help="load generator (default: wrk; python with --quick)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of {', '.join(PARTS)}")
    parser.add_argument("--seconds", type=float, help="duration of each HTTP run (default 5; 0.3 with --quick)")
    parser.add_argument("--n", type=int, help="orders per throughput run (default 1000; 6 with --quick)")
    parser.add_argument("--workers", default="1,2,4", help="qcluster worker counts for throughput")
    parser.add_argument("--tl-n", type=int,
                        help="orders placed at once for throughput-latency (default 400; 4 with --quick)")
    parser.add_argument("--latency-n", type=int, help="orders timed for latency (default 40; 3 with --quick)")
    parser.add_argument("--latency-interval", type=float, help="seconds between them (default 0.5; 0.2 with --quick)")
    parser.add_argument("--latency-workers", type=int, default=4)
    parser.add_argument("--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 2)))
    parser.add_argument("--web-threads", type=int, default=int(os.environ.get("GUNICORN_THREADS", 4)))
    parser.add_argument("--data-dir", help="data directory, kept (default: a new temp folder, removed at the end)")
    parser.add_argument("--database", help="PostgreSQL database name (default: one named for the run, dropped)")
    parser.add_argument("--keep-failed", action="store_true", help="keep a failed run's temp folder (the logs)")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    parser.add_argument("--table", action="store_true", help="only print the table of bench/results/latest-*.json")
    o = parser.parse_args(argv)
    o.load = o.load or ("python" if o.quick else "wrk")
    o.seconds = o.seconds or (0.3 if o.quick else 5.0)
    o.n = o.n or (6 if o.quick else 1000)
    o.latency_n = o.latency_n or (3 if o.quick else 40)
    o.tl_n = o.tl_n or (4 if o.quick else 400)
    o.latency_interval = o.latency_interval if o.latency_interval is not None else (0.2 if o.quick else 0.5)
    o.workers = [int(w) for w in o.workers.split(",") if w]
    o.only = {p.strip() for p in o.only.split(",") if p.strip()}
    unknown = o.only - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}")
    return o


def main(argv: list[str] | None = None) -> int:
    o = parse(argv)
    if o.table:
        results = [json.loads(p.read_text()) for p in sorted(RESULTS_DIR.glob("latest-*.json"))
                   if "quick" not in p.name]
        print(table(results))
        return 0
    if o.load == "wrk":
        ensure_wrk()
    backends = ["sqlite", "postgres"] if o.backend == "all" else [o.backend]
    results = []
    for name in backends:
        backend = Backend.make(name, tag="bench", data_dir=o.data_dir if len(backends) == 1 else None,
                               database=o.database)
        failed = True
        try:
            result = Bench(backend, o).run()
            failed = False
        finally:
            for path in discard_stores(keep_data_dirs=failed and o.keep_failed):
                print(f"[{name}] kept: {path}", flush=True)
        if not o.no_save:
            path = save(result)
            print(f"[{name}] results: {path.relative_to(BASE_DIR)}", flush=True)
        results.append(result)
    print()
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
