"""Provider outage: the payment provider stops answering for 60 s while orders keep coming.

A store with the seed's provider latencies (×0.5) and the default worker cluster (no Q_WORKERS
or PIPELINE_CONCURRENT_RUNS set, as `make run`). The drill publishes a workflow version whose
payment call timeout is 1 s (`manage.py workflow_import --publish`): in the outage every charge
waits its per-attempt timeout, and at the default 30 s an order's three attempts would outlast
the outage itself (the drill would time the timeout, not the store's handling of the outage);
1 s is still 10× the slowest simulated charge at this scale (200 ms × 0.5), so no charge times
out outside the outage. STUCK_AFTER_SECONDS and the sweeper keep production's settings (120 s),
and the circuit breaker the default version's thresholds (5 timeouts, a 15 s cool-down; 5 s in
--quick).

1. Baselines, per order from its events: placement → `paying` (inventory + risk) of 20 orders
   placed one every 0.5 s (card 4242), as the outage's orders are placed; `paid` → `shipped`
   (shipping) of a burst of as many orders as the outage will have, placed at once. The outage's
   orders reach shipping together when payment returns, each queued behind the others, so
   their shipping is compared with a burst of the same size, not with orders that ship alone.
2. `manage.py provider_outage payment --seconds 60` (mode timeout), and 100 orders placed over
   the 60 s through the API (JWT, an Idempotency-Key each, retried with it on a dropped
   connection or a 5xx) while /healthz is asked every 0.5 s.
3. After the outage ends and /healthz is "healthy" again (the breaker closed): wait until every
   order is terminal or `stalled`; re-drive each stalled order (POST /api/orders/{id}/redrive,
   staff JWT); wait until every order is terminal.

Passes when: no order made more than 3 charge calls (the simulator's ledger, every key, before
the re-drive); the p95 of each non-payment stage of the outage's orders is within 2× the
baseline p95 of the same run (inventory + risk of the orders placed during the outage against
the paced baseline; shipping of the same orders, which ship once payment is back, against the
burst baseline; --quick, beside the other drills on a small machine,
allows the baseline p95 + 1 s when that is more); /healthz said "degraded" naming payment during
the outage and "healthy" after it; every order terminal or stalled within RECOVERY_SECONDS of
the breaker closing; after the re-drive every order delivered or failed for a business reason
(a decline, not a timeout); no order charged twice; stock adds up as in the crash drill.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime

from bench.drills.common import Outcome, call, fresh_store, new_key, orders_paced, percentile, say, workflow_publish
from bench.env import django_side, manage
from bench.procs import Cluster, Server

PRODUCT = "prod-008"  # the bench's product with a stock of 10⁹: every order can be delivered
MAX_CHARGE_CALLS = 3
STAGE_FACTOR = 2.0
QUICK_STAGE_SLACK_S = 1.0
HEALTHZ_EVERY = 0.5
RECOVERY_SECONDS = 120  # breaker closed → every order terminal or stalled
REDRIVE_SECONDS = 120  # re-drive → every order terminal
BREAKER_CLOSE_SECONDS = 60  # outage over → /healthz healthy again (cool-down 15 s + a probe)
TERMINAL = {"delivered", "failed", "cancelled", "refunded"}
DRILL_ENV = {
    "SIM_LATENCY_SCALE": "0.5",  # the seed's latencies halved: ~0.4 s of provider time per order
    "PIPELINE_BACKOFF_SCALE": "1",  # production's backoff between attempts
}
PAYMENT_TIMEOUT_S = 1.0  # the version the drill publishes: steps.payment.timeoutSeconds


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.0f} ms"


class HealthPoller:
    """GET /healthz every HEALTHZ_EVERY s in a thread: (time, HTTP status, status, providers check)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.polls: list[tuple[float, int, str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="healthz", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.time()
            reply = call(self.url, "GET", "/healthz", timeout=5)
            body = reply.body or {}
            checks = body.get("checks") or {}
            self.polls.append((started, reply.status, str(body.get("status", "")), str(checks.get("providers", ""))))
            self._stop.wait(max(0.0, HEALTHZ_EVERY - (time.time() - started)))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def last(self) -> tuple[float, int, str, str] | None:
        return self.polls[-1] if self.polls else None

    @staticmethod
    def degraded_for_payment(poll: tuple[float, int, str, str]) -> bool:
        return poll[2] == "degraded" and "payment" in poll[3]

    @staticmethod
    def healthy(poll: tuple[float, int, str, str]) -> bool:
        return poll[1] == 200 and poll[2] == "healthy"


def _wait(backend, order_ids: list[int], done, seconds: float) -> tuple[bool, dict, float]:
    """Poll the orders' states until done(states by order) or `seconds` pass."""
    started = time.monotonic()
    while True:
        rows = django_side(backend, "outage_orders", {"order_ids": order_ids})["orders"]
        states = {row["id"]: row["state"] for row in rows}
        if done(states) or time.monotonic() - started > seconds:
            return done(states), states, time.monotonic() - started
        time.sleep(0.5)


def _stages(rows: list[dict]) -> tuple[list[float], list[float]]:
    """(placement → paying, paid → shipped) durations in seconds of these orders."""
    first = [row["paying"] - row["created"] for row in rows if row["paying"] is not None]
    shipping = [row["shipped"] - row["paid"] for row in rows if row["paid"] is not None and row["shipped"] is not None]
    return first, shipping


def run(backend_name: str = "sqlite", *, quick: bool = False) -> Outcome:
    baseline_n, outage_seconds, outage_n = (5, 10, 12) if quick else (20, 60, 100)
    outcome = Outcome("provider-outage")
    backend, setup = fresh_store(backend_name, "drill-provider", {"delivered_order": False})
    backend.overrides.update(DRILL_ENV)
    policy = {"steps.payment.timeoutSeconds": PAYMENT_TIMEOUT_S}
    if quick:
        policy["steps.payment.circuit.coolDownSeconds"] = 5.0
    say(workflow_publish(backend, policy, note="provider-outage drill: 1 s charges"))
    initial = setup["stock"]
    token, staff_token = setup["customer"]["jwt"], setup["staff"]["jwt"]
    say(f"{backend.label}: seed latencies ×{DRILL_ENV['SIM_LATENCY_SCALE']}, default cluster, payment call timeout "
        f"{PAYMENT_TIMEOUT_S:g} s, production's STUCK_AFTER_SECONDS; {baseline_n} paced and {outage_n} burst baseline orders, then a "
        f"{outage_seconds} s payment outage (timeout mode) with {outage_n} orders placed over it")
    server = Server(backend, backend.env())
    cluster = Cluster(backend, backend.env())
    server.start()
    cluster.start()
    health = HealthPoller(server.url)
    cluster_settings = django_side(backend, "cluster_settings", {})
    say(f"cluster: {cluster_settings['workers']} workers, concurrent runs {cluster_settings['concurrent_runs'] or '–'}")
    redrive_replies: Counter = Counter()
    try:
        # 1. Baseline.
        keys = [new_key("outage-base") for _ in range(baseline_n)]
        baseline_ids = [oid for oid in orders_paced(server.url, token, keys, 0.5, product=PRODUCT, threads=8) if oid]
        ok, states, _ = _wait(backend, baseline_ids, lambda s: all(v in TERMINAL for v in s.values()), 60)
        say(f"baseline: {len(baseline_ids)} orders, states {dict(Counter(states.values()))}")
        keys = [new_key("outage-burst") for _ in range(outage_n)]
        burst_ids = [oid for oid in orders_paced(server.url, token, keys, 0.0, product=PRODUCT, threads=8) if oid]
        ok, states, _ = _wait(backend, burst_ids, lambda s: all(v in TERMINAL for v in s.values()), 120)
        say(f"burst baseline: {len(burst_ids)} orders placed at once, states {dict(Counter(states.values()))}")

        # 2. The outage, and orders placed over it.
        health.start()
        said = manage(backend, "provider_outage", "payment", "--seconds", str(outage_seconds)).strip()
        outage_end = datetime.fromisoformat(said.split(" until ")[1].split()[0]).timestamp()
        outage_start = outage_end - outage_seconds
        say(f"manage.py provider_outage payment --seconds {outage_seconds}: {said}")
        keys = [new_key("outage") for _ in range(outage_n)]
        outage_ids = [oid for oid in orders_paced(server.url, token, keys, outage_seconds / outage_n, product=PRODUCT,
                                                  threads=8) if oid]
        say(f"{len(outage_ids)}/{outage_n} orders placed during the outage "
            f"({time.time() - outage_start:.1f} s after it began)")
        time.sleep(max(0.0, outage_end - time.time()))
        say("the outage is over (its time ran out)")

        # 3. The breaker closes; every order terminal or stalled; re-drive the stalled ones.
        close_started = time.monotonic()
        while time.monotonic() - close_started < BREAKER_CLOSE_SECONDS:
            last = health.last()
            if last and last[0] > outage_end and HealthPoller.healthy(last):
                break
            time.sleep(0.25)
        breaker_closed_after = time.time() - outage_end
        say(f"/healthz healthy {breaker_closed_after:.1f} s after the outage ended")
        all_ids = baseline_ids + burst_ids + outage_ids
        settled, states, settled_in = _wait(
            backend, all_ids, lambda s: all(v in TERMINAL or v == "stalled" for v in s.values()), RECOVERY_SECONDS)
        before_redrive = django_side(backend, "outage_orders", {"order_ids": all_ids})["orders"]
        stalled = [row["id"] for row in before_redrive if row["state"] == "stalled"]
        say(f"{'every order terminal or stalled' if settled else 'NOT every order terminal or stalled'} "
            f"{settled_in:.1f} s later: {dict(Counter(states.values()))}; {len(stalled)} stalled")
        for order_id in stalled:
            reply = call(server.url, "POST", f"/api/orders/{order_id}/redrive", token=staff_token)
            redrive_replies[reply.status] += 1
        if stalled:
            say(f"re-drove {len(stalled)} stalled orders: HTTP {dict(redrive_replies)}")
        ended, states, ended_in = _wait(backend, all_ids, lambda s: all(v in TERMINAL for v in s.values()),
                                        REDRIVE_SECONDS if stalled else 5)
        say(f"after the re-drive ({ended_in:.1f} s): {dict(Counter(states.values()))}")
    finally:
        health.stop()
        cluster.stop()
        server.stop()

    final = django_side(backend, "outage_orders", {"order_ids": all_ids})["orders"]
    base_rows = [row for row in final if row["id"] in set(baseline_ids)]
    outage_rows = [row for row in final if row["id"] in set(outage_ids)]
    base_first, _ = _stages(base_rows)
    _, base_ship = _stages([row for row in final if row["id"] in set(burst_ids)])
    out_first, out_ship = _stages(outage_rows)
    calls_before = [row["charge_calls"] for row in before_redrive if row["id"] in set(outage_ids)]
    calls_after = [row["charge_calls"] for row in final]
    polls = health.polls
    during = [p for p in polls if outage_start <= p[0] <= outage_end + breaker_closed_after]
    degraded = [p for p in during if HealthPoller.degraded_for_payment(p)]
    degraded_seconds = len(degraded) * HEALTHZ_EVERY
    after = [p for p in polls if p[0] > outage_end]
    statuses = Counter(f"{p[1]} {p[2]}" for p in polls)

    say(f"charge calls per outage order before the re-drive: max {max(calls_before, default=0)}, mean "
        f"{sum(calls_before) / max(1, len(calls_before)):.2f}; after it (every order): max "
        f"{max(calls_after, default=0)}, mean {sum(calls_after) / max(1, len(calls_after)):.2f}")
    say(f"placement → paying (inventory + risk): baseline p50 {_ms(percentile(base_first, 50))} p95 "
        f"{_ms(percentile(base_first, 95))} ({len(base_first)}); outage p50 {_ms(percentile(out_first, 50))} p95 "
        f"{_ms(percentile(out_first, 95))} ({len(out_first)})")
    say(f"paid → shipped (shipping): burst baseline p50 {_ms(percentile(base_ship, 50))} p95 "
        f"{_ms(percentile(base_ship, 95))} ({len(base_ship)}); outage orders p50 {_ms(percentile(out_ship, 50))} p95 "
        f"{_ms(percentile(out_ship, 95))} ({len(out_ship)})")
    say(f"/healthz: {len(polls)} polls, {dict(statuses)}; degraded naming payment for {degraded_seconds:.1f} s"
        + (f" (from {degraded[0][0] - outage_start:.1f} s after the outage began to "
           f"{degraded[-1][0] - outage_end:+.1f} s after it ended)" if degraded else ""))
    say(f"stalled: {len(stalled)}; re-drive answers {dict(redrive_replies) or '–'}")

    outcome.check(len(baseline_ids) == baseline_n and len(burst_ids) == outage_n and len(outage_ids) == outage_n,
                  f"every order placed ({len(baseline_ids)}/{baseline_n} baseline, {len(burst_ids)}/{outage_n} burst "
                  f"baseline, {len(outage_ids)}/{outage_n} during the outage)")
    outcome.check(calls_before and max(calls_before) <= MAX_CHARGE_CALLS,
                  f"at most {MAX_CHARGE_CALLS} charge calls per order through the outage (max "
                  f"{max(calls_before, default=0)}, mean {sum(calls_before) / max(1, len(calls_before)):.2f})")
    for label, base, out in (("placement → paying (inventory + risk)", base_first, out_first),
                             ("paid → shipped (shipping)", base_ship, out_ship)):
        base_p95, out_p95 = percentile(base, 95), percentile(out, 95)
        limit = None if base_p95 is None else STAGE_FACTOR * base_p95
        if limit is not None and quick:
            limit = max(limit, base_p95 + QUICK_STAGE_SLACK_S)
        outcome.check(limit is not None and out_p95 is not None and out_p95 <= limit,
                      f"{label} p95 of the outage's orders {_ms(out_p95)} within "
                      f"{'max(2×, +1 s)' if quick else '2×'} the baseline p95 {_ms(base_p95)} (limit {_ms(limit)}; "
                      f"{len(out)} orders)")
    outcome.check(bool(degraded), f"/healthz said degraded naming payment during the outage ({len(degraded)} of "
                                  f"{len(during)} polls, {degraded_seconds:.1f} s)")
    outcome.check(bool(after) and HealthPoller.healthy(after[-1]) and "payment" not in after[-1][3],
                  f"/healthz healthy after the outage ({after[-1][1]} {after[-1][2]!r}, providers "
                  f"{after[-1][3] or '–'!r}, {breaker_closed_after:.1f} s after it ended)" if after
                  else "/healthz healthy after the outage (no poll after it)")
    outcome.check(settled, f"every order terminal or stalled {settled_in:.1f} s after /healthz was healthy again "
                           f"(limit {RECOVERY_SECONDS} s; {sum(1 for r in before_redrive if r['state'] not in TERMINAL and r['state'] != 'stalled')} not)")
    bad = [row for row in final
           if not (row["state"] == "delivered"
                   or (row["state"] == "failed" and row["reason"] and "timed out" not in row["reason"].lower()
                       and "timeout" not in row["reason"].lower()))]
    outcome.check(not bad, f"after the re-drive every order delivered or failed for a business reason "
                           f"({dict(Counter(row['state'] for row in final))}"
                           + (f"; not: {len(bad)}, e.g. order {bad[0]['id']} {bad[0]['state']} "
                              f"{bad[0]['reason']!r}" if bad else "") + ")")
    twice = [row["id"] for row in final if row["ok_charges"] > 1 and not row["refunds"]]
    audit = django_side(backend, "audit", {"initial_stock": initial})
    outcome.check(not twice and not [p for p in audit["problems"] if "twice" in p],
                  f"no order charged twice ({audit['charges']} ok charges, {audit['refunds']} refunds"
                  + (f"; twice: {twice[:10]}" if twice else "") + ")")
    outcome.check(not [p for p in audit["problems"] if "twice" not in p and "labels" not in p],
                  "stock adds up for every product (initial = available + reserved + sold; its ledger sums to its "
                  "stock), and every "
                  "delivered/refunded order was charged exactly once"
                  + ("" if not audit["problems"] else ": " + "; ".join(audit["problems"][:5])))
    outcome.facts = {
        "charge_calls_max": max(calls_before, default=0), "stalled": len(stalled),
        "redrive": dict(redrive_replies), "healthz_degraded_s": degraded_seconds,
        "stage_p95_s": {"baseline": [percentile(base_first, 95), percentile(base_ship, 95)],
                        "outage": [percentile(out_first, 95), percentile(out_ship, 95)]},
        "states": dict(Counter(row["state"] for row in final)),
    }
    return outcome
