"""Web restart: a burst of POST /api/orders while gunicorn is reloaded (HUP), one of its workers
is killed (-9) and the whole server is stopped (TERM) and started again.

Clients do what a careful client does: one Idempotency-Key per order, retried (same key) on a
dropped connection or a 5xx. Afterwards every 2xx answer's order exists, no key made two
orders, and every order in the database was answered 2xx to its client.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from bench.drills.common import Outcome, call, fresh_store, new_key, order_body, say
from bench.env import django_side
from bench.procs import Server

PRODUCT = "prod-008"


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                found.append(int(entry))
    return found


def run(backend_name: str = "sqlite", *, quick: bool = False) -> Outcome:
    clients, seconds = (4, 4.0) if quick else (8, 10.0)
    outcome = Outcome("restart")
    backend, setup = fresh_store(backend_name, "drill-restart", {"delivered_order": False})
    token = setup["customer"]["jwt"]
    say(f"{backend.label}: {clients} clients place orders for {seconds:.0f} s (Idempotency-Key each, retried "
        f"on failure); meanwhile gunicorn gets HUP, a worker gets kill -9, then TERM and a restart")
    answered: dict[str, list] = {}  # key -> [(status, order id)] of every attempt
    lock = threading.Lock()
    stop = threading.Event()
    server = Server(backend, backend.env())
    server.start()
    port = server.port

    def client() -> None:
        while not stop.is_set():
            key = new_key("restart")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                reply = call(server_url, "POST", "/api/orders", token=token, body=order_body({PRODUCT: 1}),
                             headers={"Idempotency-Key": key}, timeout=30)
                with lock:
                    answered.setdefault(key, []).append((reply.status, (reply.body or {}).get("id")))
                if 200 <= reply.status < 300 or 400 <= reply.status < 500:
                    break
                time.sleep(0.05)

    server_url = server.url
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    events = []
    try:
        time.sleep(seconds * 0.2)
        server.signal(signal.SIGHUP)
        events.append("HUP (graceful reload)")
        time.sleep(seconds * 0.2)
        workers = _children(server.pid)
        if workers:
            os.kill(workers[0], signal.SIGKILL)
            events.append(f"kill -9 worker {workers[0]}")
        time.sleep(seconds * 0.2)
        server.stop()
        events.append("TERM (graceful stop)")
        time.sleep(0.5)
        server = Server(backend, backend.env(), port=port)
        server.start()
        events.append("started again")
        time.sleep(seconds * 0.4)
    finally:
        stop.set()
        for thread in threads:
            thread.join(90)
        server.stop()
    say("events: " + ", ".join(events))
    attempts = [status for tries in answered.values() for status, _ in tries]
    say(f"{len(answered)} orders attempted in {len(attempts)} requests: "
        f"{ {s: attempts.count(s) for s in sorted(set(attempts))} } (0 = connection refused or dropped)")
    ok_keys = {key: {oid for status, oid in tries if 200 <= status < 300} for key, tries in answered.items()}
    found = django_side(backend, "orders_by_key", {"keys": list(answered)})
    by_key = {key: ids for key, ids in found["by_key"].items()}
    lost = [key for key, ids in ok_keys.items() if ids and not set(ids) <= set(by_key.get(key, []))]
    doubled = [key for key, ids in by_key.items() if len(ids) > 1]
    unanswered = [key for key in by_key if not ok_keys.get(key)]
    never = [key for key, ids in ok_keys.items() if not ids]
    outcome.check(len(events) == 4, "the server was reloaded, lost a worker, stopped and started during the burst")
    outcome.check(not lost, f"every 2xx answer's order exists ({len(lost)} lost)")
    outcome.check(not doubled, f"no Idempotency-Key made two orders ({len(doubled)} did)")
    outcome.check(not unanswered, f"every order in the database was answered 2xx to its client ({len(unanswered)} not)")
    outcome.check(not never, f"every client order got its 2xx in the end, retrying ({len(never)} did not)")
    outcome.check(not any(s >= 500 for s in attempts), f"no 5xx ({sum(s >= 500 for s in attempts)})")
    outcome.check(found["orders_total"] == len(by_key), f"{found['orders_total']} orders in the database, all from the burst")
    outcome.facts = {"orders": len(answered), "requests": len(attempts), "events": events}
    return outcome
