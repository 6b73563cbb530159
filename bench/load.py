"""Load generators: wrk (the real one, a separate C process) and a small pure-Python one
(`--quick` and the smoke tests, so `make test` does not need wrk), with the same result shape:

    {"requests", "seconds", "rps", "non_2xx", "errors", "p50_ms", "p99_ms", "mean_ms", "max_ms"}
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench.debian import package_ensure
from bench.env import BASE_DIR

LUA_SCRIPT = BASE_DIR / "bench" / "lua" / "bench.lua"


@dataclass
class Target:
    """One request to hammer: method, path, headers, JSON body."""

    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: dict | None = None

    @property
    def body_bytes(self) -> bytes | None:
        return json.dumps(self.body).encode() if self.body is not None else None

    def all_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.body is not None:
            headers.setdefault("Content-Type", "application/json")
        return headers


def ensure_wrk() -> str:
    """The wrk binary; installs Debian's package when missing (root or passwordless sudo)."""
    return package_ensure("wrk", lambda: shutil.which("wrk"))


def run_wrk(base_url: str, target: Target, *, connections: int, seconds: float) -> dict:
    wrk = ensure_wrk()
    threads = max(1, min(connections, 2))  # 2 cores: more wrk threads only steal from the server
    env = {
        **os.environ,
        "BENCH_METHOD": target.method,
        "BENCH_BODY": json.dumps(target.body) if target.body is not None else "",
        "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in target.all_headers().items()),
    }
    command = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
               "--timeout", "10s", "-s", str(LUA_SCRIPT), base_url + target.path]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    raw = json.loads(line[len("BENCH_JSON "):])
    errors = raw["errors"]
    seconds_run = raw["duration_us"] / 1e6
    latency = raw["latency_us"]
    return {
        "tool": "wrk",
        "requests": raw["requests"],
        "seconds": seconds_run,
        "rps": raw["requests"] / seconds_run if seconds_run else 0.0,
        "non_2xx": errors["status"],
        "errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        "p50_ms": latency["p50"] / 1000,
        "p99_ms": latency["p99"] / 1000,
        "mean_ms": latency["mean"] / 1000,
        "max_ms": latency["max"] / 1000,
    }


# --- the pure-Python generator -------------------------------------------------------------

def request(base_url: str, target: Target, *, timeout: float = 30.0) -> tuple[int, bytes, dict]:
    """One request on a fresh connection: (status, body, headers)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request(target.method, target.path, body=target.body_bytes, headers=target.all_headers())
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


def run_python(base_url: str, target: Target, *, connections: int, seconds: float) -> dict:
    """`connections` threads, each with one keep-alive connection, for `seconds`."""
    parts = urlsplit(base_url)
    body, headers = target.body_bytes, target.all_headers()
    latencies: list[list[float]] = [[] for _ in range(connections)]
    non_2xx = [0] * connections
    errors = [0] * connections
    start_gate = threading.Barrier(connections + 1)
    deadline_box: list[float] = []

    def worker(slot: int) -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        start_gate.wait()
        deadline = deadline_box[0]
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                connection.request(target.method, target.path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except (OSError, http.client.HTTPException):
                errors[slot] += 1
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                continue
            latencies[slot].append(time.perf_counter() - started)
            if not 200 <= status < 400:
                non_2xx[slot] += 1
        connection.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline_box.append(began + seconds)
    start_gate.wait()
    for thread in threads:
        thread.join(seconds + 60)
    elapsed = time.perf_counter() - began
    merged = sorted(value for slot in latencies for value in slot)

    def pct(q: float) -> float:
        if not merged:
            return 0.0
        return merged[min(len(merged) - 1, int(q / 100 * len(merged)))] * 1000

    return {
        "tool": "python",
        "requests": len(merged),
        "seconds": elapsed,
        "rps": len(merged) / elapsed if elapsed else 0.0,
        "non_2xx": sum(non_2xx),
        "errors": sum(errors),
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "mean_ms": (sum(merged) / len(merged) * 1000) if merged else 0.0,
        "max_ms": merged[-1] * 1000 if merged else 0.0,
    }


def run_load(tool: str, base_url: str, target: Target, *, connections: int, seconds: float) -> dict:
    runner = run_wrk if tool == "wrk" else run_python
    return runner(base_url, target, connections=connections, seconds=seconds)
