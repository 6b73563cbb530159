"""Slow clients: 50 connections sending one header line every 2 s, against nginx in front of gunicorn.

gunicorn (2 workers × 4 threads, the Procfile's shape) gives each connection a thread while it
reads the request, so a client that sends its headers slowly holds that thread: eight of them
hold every thread. nginx (Debian's, installed when missing, with the shipped site:
observability/nginx/site.conf + store.conf; bench/nginx.py) reads each request whole before a
gunicorn thread sees it.

1. Baseline: one normal client asks nginx for /livez and a product page, one request after
   another; p50 and p99 of each.
2. 50 slow clients connect to nginx, each sending "GET /livez HTTP/1.1" and then one header
   line every 2 s, never finishing (one dropped by nginx's client_header_timeout connects
   again); the normal client asks the same again.
3. The baseline once more, the slow clients gone: the baseline p99 is the higher of the two,
   so a moment of load from elsewhere on a shared machine counts on both sides.
4. Information, not judged: the same 50 slow clients against gunicorn itself, and how the
   normal client fares there (each request given 3 s).

Passes when the normal client's p99 of each path under the slow clients stays within 3× its
baseline p99 (--quick, 30 product-page requests beside the other drills on a small machine, where
the p99 is the slowest request and one scheduling hiccup decides it: or within the baseline p99
+ 250 ms when that is more; a request starved of gunicorn threads waits seconds, so the slack still
tells the two apart), every one of its requests answered 200, and the 50 slow clients were
connected all along.
"""
from __future__ import annotations

import socket
import threading
import time

from bench.drills.common import Outcome, call, fresh_store, say
from bench.nginx import Nginx
from bench.procs import Server, free_port

SLOW_CLIENTS = 50
HEADER_EVERY = 2.0  # seconds between a slow client's header lines
FACTOR = 3.0
QUICK_SLACK_S = 0.25
PATHS = ["/livez", "/products/prod-001/"]
DIRECT_TIMEOUT = 3.0


class SlowClients:
    """`count` connections to host:port, each sending one more header line every HEADER_EVERY s."""

    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.sockets: list[socket.socket | None] = [None] * count
        self.reconnects = 0
        self.lines = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)

    def _connect(self, index: int) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        self.sockets[index] = sock

    def _run(self) -> None:
        while not self._stop.wait(HEADER_EVERY):
            for index, sock in enumerate(self.sockets):
                try:
                    if sock is None:
                        raise OSError("not connected")
                    sock.sendall(f"X-Slow-{self.lines}: 1\r\n".encode())
                    self.lines += 1
                except OSError:
                    self._close(index)
                    self.reconnects += 1
                    try:
                        self._connect(index)
                    except OSError:
                        pass

    def _close(self, index: int) -> None:
        sock, self.sockets[index] = self.sockets[index], None
        if sock is not None:
            sock.close()

    def connected(self) -> int:
        return sum(sock is not None for sock in self.sockets)

    def __enter__(self) -> SlowClients:
        for index in range(self.count):
            self._connect(index)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for index in range(self.count):
            self._close(index)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(url: str, path: str, requests: int, *, timeout: float = 30) -> dict:
    """One client, one request after another: p50/p99 in ms and the statuses (0: no answer)."""
    seconds, statuses = [], []
    for _ in range(requests):
        reply = call(url, "GET", path, timeout=timeout)
        seconds.append(reply.seconds)
        statuses.append(reply.status)
    return {"p50_ms": _percentile(seconds, 0.5) * 1000, "p99_ms": _percentile(seconds, 0.99) * 1000,
            "max_ms": max(seconds) * 1000, "ok": statuses.count(200), "requests": requests}


def _line(label: str, figures: dict) -> str:
    return (f"{label}: p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, max {figures['max_ms']:.1f} ms, "
            f"{figures['ok']}/{figures['requests']} answered 200")


def run(backend_name: str = "sqlite", *, quick: bool = False) -> Outcome:
    requests = {"/livez": 100 if quick else 500, "/products/prod-001/": 30 if quick else 300}
    outcome = Outcome("slow-clients")
    backend, _ = fresh_store(backend_name, "drill-slow-clients", {"delivered_order": False})
    server = Server(backend, backend.env(), workers=2, threads=4)
    server.start()
    nginx = Nginx(backend.data_dir / "nginx", upstream=server.url, port=free_port(),
                  media_dir=backend.data_dir / "media")
    try:
        nginx.start()
        say(f"{backend.label}: nginx on {nginx.url} in front of gunicorn on {server.url} (2 workers × 4 threads)")
        for path in PATHS:  # warm both (imports, templates, caches) before timing
            measure(nginx.url, path, 10)
        before = {path: measure(nginx.url, path, requests[path]) for path in PATHS}
        for path in PATHS:
            say(_line(f"baseline {path}", before[path]))

        say(f"{SLOW_CLIENTS} slow clients connect to nginx (one header line every {HEADER_EVERY:.0f} s)")
        with SlowClients(nginx.port, SLOW_CLIENTS) as slow:
            time.sleep(HEADER_EVERY + 1)  # every slow client has sent a header line more
            connected_before = slow.connected()
            during = {path: measure(nginx.url, path, requests[path]) for path in PATHS}
            connected_after, reconnects = slow.connected(), slow.reconnects
        for path in PATHS:
            say(_line(f"with {SLOW_CLIENTS} slow clients {path}", during[path]))
        say(f"slow clients connected: {connected_before} before, {connected_after} after the measurement; "
            f"{reconnects} reconnected (nginx dropped them)")
        after = {path: measure(nginx.url, path, requests[path]) for path in PATHS}
        for path in PATHS:
            say(_line(f"baseline again, slow clients gone {path}", after[path]))
        baseline = {path: max(before[path], after[path], key=lambda figures: figures["p99_ms"]) for path in PATHS}

        outcome.check(connected_before == SLOW_CLIENTS and connected_after == SLOW_CLIENTS,
                      f"the {SLOW_CLIENTS} slow clients held their connections to nginx all along")
        for path in PATHS:
            limit = FACTOR * baseline[path]["p99_ms"]
            if quick:
                limit = max(limit, baseline[path]["p99_ms"] + QUICK_SLACK_S * 1000)
            outcome.check(during[path]["ok"] == during[path]["requests"],
                          f"{path}: every request of the normal client answered 200 under the slow clients")
            outcome.check(during[path]["p99_ms"] <= limit,
                          f"{path}: p99 {during[path]['p99_ms']:.1f} ms under the slow clients ≤ {limit:.1f} ms "
                          f"({FACTOR:.0f}× the baseline's {baseline[path]['p99_ms']:.1f} ms)")
        outcome.facts.update(baseline=baseline, before=before, after=after, during=during)

        # Information: gunicorn facing the slow clients itself.
        say(f"for information: the same {SLOW_CLIENTS} slow clients against gunicorn itself")
        with SlowClients(server.port, SLOW_CLIENTS):
            time.sleep(HEADER_EVERY + 1)
            direct = measure(server.url, "/livez", 3 if quick else 5, timeout=DIRECT_TIMEOUT)
        say(_line(f"gunicorn without nginx /livez (each request given {DIRECT_TIMEOUT:.0f} s)", direct))
        outcome.facts["direct"] = direct
    finally:
        nginx.stop()
        server.stop()
    return outcome
