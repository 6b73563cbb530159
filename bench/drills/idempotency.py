"""Idempotency: N concurrent replays of one POST /api/orders with the same Idempotency-Key.

Every replay answers 2xx with the same order (one 201, the rest 200), one order exists for
the key, its stock was reserved once, and the same key with another body is a 422.
"""
from __future__ import annotations

from bench.drills.common import Outcome, all_at_once, call, fresh_store, new_key, order_body, say
from bench.env import django_side
from bench.procs import Server

PRODUCT = "prod-002"


def run(backend_name: str = "sqlite", *, quick: bool = False) -> Outcome:
    replays = 10 if quick else 50
    outcome = Outcome("idempotency")
    backend, setup = fresh_store(backend_name, "drill-idem", {"delivered_order": False})
    initial = setup["stock"]
    key = new_key("idem")
    body = order_body({PRODUCT: 2})
    token = setup["customer"]["jwt"]
    say(f"{backend.label}: {replays} concurrent POST /api/orders, same customer, same body, "
        f"Idempotency-Key {key[:14]}…")
    with Server(backend, backend.env()) as server:
        replies = all_at_once(replays, lambda i: call(server.url, "POST", "/api/orders", token=token, body=body,
                                                      headers={"Idempotency-Key": key}))
        other = call(server.url, "POST", "/api/orders", token=token, body=order_body({PRODUCT: 3}),
                     headers={"Idempotency-Key": key})
    statuses = [r.status for r in replies]
    ids = {r.body.get("id") for r in replies if r.body and 200 <= r.status < 300}
    say(f"answers: {dict((s, statuses.count(s)) for s in set(statuses))}; order ids {sorted(ids)}")
    outcome.check(all(200 <= s < 300 for s in statuses), "every replay answered 2xx")
    outcome.check(statuses.count(201) == 1 and statuses.count(200) == replays - 1, "one 201 Created, the rest 200 OK")
    outcome.check(len(ids) == 1, f"every answer names the same order ({len(ids)} distinct)")
    found = django_side(backend, "orders_by_key", {"keys": [key]})
    orders = found["by_key"].get(key, [])
    outcome.check(len(orders) == 1 and found["orders_total"] == 1, f"{len(orders)} order with the key, "
                                                                    f"{found['orders_total']} orders in all")
    audit = django_side(backend, "audit", {"initial_stock": initial})
    row = audit["stock"][PRODUCT]
    outcome.check(row["reserved"] == 2 and not audit["problems"],
                  f"{PRODUCT}: 2 units reserved once (reserved {row['reserved']}, available {row['available']})")
    outcome.check(other.status == 422 and (other.body or {}).get("code") == "idempotency_key_reused",
                  f"same key, another body: {other.status} {(other.body or {}).get('code')}")
    outcome.facts = {"replays": replays, "statuses": statuses}
    return outcome
