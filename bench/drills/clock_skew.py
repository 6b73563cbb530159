"""Clock skew: the web process's clock is 400 s ahead, so every signed payment callback is stale.

The web process (gunicorn) runs under Debian's libfaketime (LD_PRELOAD of libfaketime.so.1,
FAKETIME="+400"; the package is installed when missing, as the bench installs wrk); the worker
cluster keeps the machine's clock. Orders are paid with the 3-D Secure test card 4000 0000 0000
3220: the simulated bank approves each charge at once (SIM_PAYMENT_CONFIRM_DELAY 0) and the
simulator POSTs the signed approval to the web's webhook, which refuses it as stale (its
timestamp is 400 s behind the web's clock, the tolerance is 300 s). Nothing but reconciliation
can pay these orders: the schedule asks the provider about payments pending for more than the
workflow version's `payment.reconcileAfterSeconds` (5 s in the version the drill publishes with
`manage.py workflow_import`; 120 s by default) every minute (django-q2 looks at its schedules
every 30 s).

The store runs on PostgreSQL with Redis as the broker, always: django-q2's ORM broker (the
SQLite stores') hands a task to a worker once its row's lock time, written with the web's clock,
has passed on the worker's, so with the web 400 s ahead every pipeline run would wait 400 s
(a `make run` on SQLite with a skewed clock has the same delay; the Redis broker keeps no time).

1. N orders (20; 4 with --quick) through the API, one every 0.5 s.
2. Wait until every order is terminal (at most SETTLE_SECONDS).

Passes when: every order is delivered (paid through reconciliation: its payment_approved event
says so), none failed while the bank had approved it, every order's approval callback was
refused as stale (kept on the order as `refused`: the skew was in effect), and nothing was
charged twice (one charge per order in the simulator's ledger, no refund). Prints the orders,
how many reconciliation paid, and the time from the charge's pending answer to paid.
"""
from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from bench.debian import package_ensure
from bench.drills.common import (
    Outcome,
    call,
    fresh_store,
    new_key,
    order_body,
    percentile,
    say,
    seconds_text,
    workflow_publish,
)
from bench.env import django_side
from bench.procs import Cluster, Server

PRODUCT = "prod-008"  # the bench's product with a stock of 10⁹
CARD_3DS = "4000000000003220"
SKEW = "+400"  # libfaketime's relative offset, in seconds
LIBFAKETIME = "libfaketime.so.1"
SETTLE_SECONDS = 240  # a few rounds of the minute schedule
TERMINAL = {"delivered", "failed", "cancelled", "refunded"}
DRILL_ENV = {
    "SIM_PAYMENT_CONFIRM_DELAY": "0",  # the bank settles at once, and the callback goes out at once
    "SIM_PAYMENT_WEBHOOK_ATTEMPTS": "2",
}
RECONCILE_AFTER_S = 5  # the version the drill publishes: payment.reconcileAfterSeconds (120 by default)


def libfaketime_path() -> str:
    """Debian's libfaketime.so.1; installs the `libfaketime` package when missing (root or sudo -n)."""
    return package_ensure("libfaketime", _find_libfaketime)


def _find_libfaketime() -> str | None:
    for folder in (*Path("/usr/lib").glob("*/faketime"), Path("/usr/lib/faketime")):
        if (folder / LIBFAKETIME).exists():
            return str(folder / LIBFAKETIME)
    return None


def _place_all(url: str, token: str, n: int, interval: float) -> list[int | None]:
    ids = []
    for _ in range(n):
        key, started = new_key("skew"), time.monotonic()
        body = order_body({PRODUCT: 1}, card=CARD_3DS)
        order_id = None
        for _ in range(20):
            reply = call(url, "POST", "/api/orders", token=token, body=body, headers={"Idempotency-Key": key})
            if reply.status in (200, 201):
                order_id = reply.body["id"]
                break
            if 400 <= reply.status < 500:
                break
            time.sleep(0.2)
        ids.append(order_id)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
    return ids


def run(backend_name: str = "sqlite", *, quick: bool = False) -> Outcome:
    n = 4 if quick else 20
    outcome = Outcome("clock-skew")
    if backend_name != "postgres":
        say(f"{backend_name}: its ORM broker orders tasks by the web's clock; running on PostgreSQL + Redis instead")
        backend_name = "postgres"
    library = libfaketime_path()
    backend, setup = fresh_store(backend_name, "drill-skew", {"delivered_order": False})
    backend.overrides.update(DRILL_ENV)
    say(workflow_publish(backend, {"payment.reconcileAfterSeconds": RECONCILE_AFTER_S},
                         note="clock-skew drill: reconcile after 5 s"))
    token = setup["customer"]["jwt"]
    say(f"{backend.label}: the web's clock {SKEW} s (libfaketime), the worker's the machine's; {n} orders with "
        f"card 3220; reconcile after {RECONCILE_AFTER_S} s, every minute")
    server = Server(backend, backend.env(LD_PRELOAD=library, FAKETIME=SKEW))
    server.start()
    skewed = call(server.url, "GET", "/livez").headers.get("date", "")
    cluster = Cluster(backend, backend.env(PAYMENT_WEBHOOK_URL=f"{server.url}/api/payments/webhook"))
    cluster.start()
    say(f"web answers with Date: {skewed!r} (machine: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())})")
    try:
        placed_at = time.monotonic()
        ids = [order_id for order_id in _place_all(server.url, token, n, 0.5) if order_id]
        say(f"{len(ids)}/{n} orders placed")
        rows, waited = [], 0.0
        while True:
            rows = django_side(backend, "skew_orders", {"order_ids": ids})["orders"]
            waited = time.monotonic() - placed_at
            if all(row["state"] in TERMINAL for row in rows) or waited > SETTLE_SECONDS:
                break
            time.sleep(1)
        say(f"{'every order terminal' if all(r['state'] in TERMINAL for r in rows) else 'NOT every order terminal'} "
            f"{waited:.1f} s after the first was placed: {dict(Counter(row['state'] for row in rows))}")
    finally:
        cluster.stop()
        server.stop()

    reconciled = [row for row in rows if row["reconciled"]]
    to_paid = [row["paid"] - row["pending"] for row in rows if row["paid"] and row["pending"]]
    refused = [row for row in rows if row["callbacks"].get("refused")]
    applied = sum(row["callbacks"].get("applied", 0) for row in rows)
    failed = [row for row in rows if row["state"] == "failed"]
    twice = [row["id"] for row in rows if sum(row["charges"].values()) != 1 or row["refunds"]]
    say(f"orders {len(rows)}; paid through reconciliation {len(reconciled)}; callbacks refused as stale on "
        f"{len(refused)} orders, applied {applied}")
    say(f"charge pending → paid: p50 {seconds_text(percentile(to_paid, 50))}, p95 {seconds_text(percentile(to_paid, 95))}, "
        f"max {seconds_text(max(to_paid, default=None))} ({len(to_paid)} orders)")

    outcome.check(len(ids) == n, f"every order placed ({len(ids)}/{n})")
    outcome.check(rows and all(row["state"] == "delivered" for row in rows),
                  f"every approved payment ended paid and the order delivered ({dict(Counter(r['state'] for r in rows))})")
    outcome.check(not failed, "no order failed while the bank had approved it"
                  + (f" (failed: {failed[0]['id']} {failed[0]['reason']!r})" if failed else ""))
    outcome.check(rows and len(reconciled) == len(rows),
                  f"every order paid through reconciliation ({len(reconciled)}/{len(rows)})")
    outcome.check(rows and len(refused) == len(rows) and applied == 0,
                  f"every approval callback refused as stale, kept on its order ({len(refused)}/{len(rows)}; "
                  f"{applied} applied)")
    outcome.check(not twice, "nothing charged twice (one charge per order, no refund)"
                  + (f"; not: {twice[:10]}" if twice else ""))
    outcome.facts = {"orders": len(rows), "reconciled": len(reconciled), "refused_callbacks": len(refused),
                     "pending_to_paid_s": {"p50": percentile(to_paid, 50), "p95": percentile(to_paid, 95),
                                           "max": max(to_paid, default=None)},
                     "states": dict(Counter(row["state"] for row in rows))}
    return outcome
