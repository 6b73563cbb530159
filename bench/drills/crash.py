"""Crash: orders placed at speed over the API while the worker cluster is killed (-9, whole
process group) three times and restarted.

The seed's rates, a mix of test cards, a ZIP the carrier's address check refuses and a ZIP whose
labels fail drive every path (declines, payment timeouts, out of stock, undeliverable addresses
ended before the charge, shipping failures compensated by refunds). Within 60 s of
the last restart every order is terminal; no order was charged, refunded or shipped twice
(the simulated providers' GatewayCall ledger); and for every product the stock adds up:
initial = available + reserved by working orders + sold.

Recovery comes from the ORM broker redelivering a killed worker's task after Q_RETRY
seconds, and from the stuck-order sweeper (run by its schedule, and by this drill every few
seconds, as STUCK_AFTER_SECONDS is small here). With Redis a fetched task is gone when its
worker dies: only the sweeper brings those orders back.
"""
from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

from bench.drills.common import (
    CARD_APPROVE,
    CARD_DECLINE,
    CARD_TIMEOUT_ONCE,
    Outcome,
    call,
    fresh_store,
    new_key,
    order_body,
    say,
)
from bench.env import django_side
from bench.procs import Cluster, Server

PRODUCTS = ["prod-001", "prod-002", "prod-003", "prod-004", "prod-005", "prod-006", "prod-007"]
STOCK = 2000
RECOVERY_SECONDS = 60
ADDRESS_REFUSED_EVERY = 10  # one order in ten ships to ZIP 00000, which the carrier's check refuses
DRILL_ENV = {
    # The seed's rates (the bench's env makes every order succeed; not here).
    "SIM_INVENTORY_AVAILABLE_RATE": "0.9",
    "SIM_SHIPPING_SUCCESS_RATE": "0.95",
    "SIM_LATENCY_SCALE": "0.05",  # orders take ~50 ms of provider time: plenty in flight at each kill
    "PIPELINE_BACKOFF_SCALE": "0.05",
    "Q_WORKERS": "2",
    "Q_TIMEOUT": "4",
    "Q_RETRY": "5",  # a killed worker's task comes back after 5 s (ORM broker)
    "STUCK_AFTER_SECONDS": "5",
}


def _body(rng: random.Random, i: int) -> dict:
    items = {pid: rng.randint(1, 3) for pid in rng.sample(PRODUCTS, rng.choice([1, 1, 2]))}
    draw = rng.random()
    if i % ADDRESS_REFUSED_EVERY == ADDRESS_REFUSED_EVERY - 1:  # even --quick's 30 orders have some
        return order_body(items, card=CARD_APPROVE, zip_code="00000")  # the address check refuses: no charge
    if draw < 0.5:
        return order_body(items, card=CARD_APPROVE)
    if draw < 0.6:
        return order_body(items, card=CARD_DECLINE)
    if draw < 0.7:
        return order_body(items, card=CARD_TIMEOUT_ONCE)
    if draw < 0.8:
        return order_body(items, card=CARD_APPROVE, zip_code="00500")  # every label fails: the saga refunds
    return order_body(items, card=None)  # random outcome by the seed's rates


def run(backend_name: str = "sqlite", *, quick: bool = False) -> Outcome:
    n, kills = (30, 3) if quick else (300, 3)
    outcome = Outcome("crash")
    backend, setup = fresh_store(backend_name, "drill-crash",
                                 {"stock": {pid: STOCK for pid in PRODUCTS}, "delivered_order": False})
    backend.overrides.update(DRILL_ENV)
    if quick:  # fewer orders, each slower: still in flight at every kill
        backend.overrides["SIM_LATENCY_SCALE"] = "0.3"
    initial = setup["stock"]
    token = setup["customer"]["jwt"]
    rng = random.Random(7)
    bodies = [_body(rng, i) for i in range(n)]
    keys = [new_key("crash") for _ in range(n)]
    say(f"{backend.label}: {n} orders over the API (8 clients), 2 workers, seed rates and test cards; "
        f"kill -9 the cluster {kills} times while they run; Q_RETRY=5 s, STUCK_AFTER_SECONDS=5")
    say(f"provider latency x{backend.overrides['SIM_LATENCY_SCALE']}")
    server = Server(backend, backend.env())
    cluster = Cluster(backend, backend.env())
    server.start()
    cluster.start()
    # Start the helper that reads the states now: its Django start-up must not eat the few
    # seconds in which orders are in flight.
    django_side(backend, "states", {})
    kill_log = []
    try:
        def place(i: int):
            for _ in range(100):  # retry with the same key until answered
                reply = call(server.url, "POST", "/api/orders", token=token, body=bodies[i],
                             headers={"Idempotency-Key": keys[i]})
                if reply.status in (200, 201):
                    return reply.body["id"]
                if 400 <= reply.status < 500:
                    return None
                time.sleep(0.1)
            return None

        pool = ThreadPoolExecutor(max_workers=8)
        futures = [pool.submit(place, i) for i in range(n)]
        for k in range(kills):
            time.sleep(0.7 if quick else 2.0)
            deadline = time.monotonic() + 45  # kill while orders are in flight
            while not (working := django_side(backend, "states", {})["working"]) and time.monotonic() < deadline:
                time.sleep(0.05)
            cluster.kill()
            kill_log.append(len(working))
            say(f"kill -9 #{k + 1}: cluster process group killed with {len(working)} orders in a working state")
            cluster = Cluster(backend, backend.env())
            cluster.start()
        restarted = time.monotonic()
        order_ids = [f.result() for f in futures]
        pool.shutdown()
        placed = [oid for oid in order_ids if oid]
        say(f"{len(placed)}/{n} orders placed (2xx); waiting up to {RECOVERY_SECONDS} s after the last restart")
        sweeps = requeued = 0
        last_sweep = time.monotonic()
        while True:
            states = django_side(backend, "states", {"order_ids": placed})
            if not states["working"] or time.monotonic() - restarted > RECOVERY_SECONDS:
                break
            if time.monotonic() - last_sweep >= 5:
                requeued += django_side(backend, "sweep", {})["requeued"]
                sweeps += 1
                last_sweep = time.monotonic()
            time.sleep(0.5)
        recovered_in = time.monotonic() - restarted
    finally:
        cluster.stop()
        server.stop()
    say(f"states: {states['states']}; drill ran the sweeper {sweeps} times ({requeued} re-enqueued)")
    outcome.check(len(placed) == n, f"all {n} orders were placed ({len(placed)})")
    outcome.check(all(k > 0 for k in kill_log), f"every kill hit orders in flight ({kill_log})")
    outcome.check(not states["working"], f"every order terminal {recovered_in:.1f} s after the last restart "
                                         f"(limit {RECOVERY_SECONDS} s; {len(states['working'])} not)")
    audit = django_side(backend, "audit", {"initial_stock": initial})
    outcome.check(not [p for p in audit["problems"] if "twice" in p or "labels" in p],
                  f"no order charged, refunded or shipped twice ({audit['charges']} charges, {audit['refunds']} refunds)")
    outcome.check(audit["address_refused"] > 0 and not [p for p in audit["problems"] if "address" in p],
                  f"{audit['address_refused']} orders refused at the address check (ZIP 00000), none charged")
    outcome.check(not [p for p in audit["problems"] if "twice" not in p and "labels" not in p and "address" not in p],
                  "stock adds up for every product (initial = available + reserved + sold; its ledger sums to its "
                  "stock), and every "
                  "delivered/refunded order was charged exactly once" +
                  ("" if not audit["problems"] else ": " + "; ".join(audit["problems"][:5])))
    outcome.facts = {"orders": n, "kills_in_flight": kill_log, "recovered_s": round(recovered_in, 1),
                     "states": states["states"], "sweeps": sweeps, "requeued": requeued,
                     "charges": audit["charges"], "refunds": audit["refunds"],
                     "address_refused": audit["address_refused"]}
    return outcome
