"""Oversell: N concurrent checkouts (one per customer, over HTTP) of a product with stock S.

Exactly S succeed (201), the rest are 409 insufficient_stock, no 5xx, and the stock adds up:
nothing sold below zero, every reserved unit belongs to an order.
"""
from __future__ import annotations

from bench.drills.common import Outcome, all_at_once, call, fresh_store, order_body, say
from bench.env import django_side
from bench.procs import Server

PRODUCT = "prod-001"


def run(backend_name: str = "postgres", *, quick: bool = False) -> Outcome:
    buyers, stock = (20, 3) if quick else (100, 10)
    outcome = Outcome("oversell")
    backend, setup = fresh_store(backend_name, "drill-oversell",
                                 {"users": buyers, "stock": {PRODUCT: stock}, "delivered_order": False})
    initial = setup["stock"]
    say(f"{backend.label}: {buyers} customers check out 1 × {PRODUCT} (stock {stock}) at the same instant, "
        f"over HTTP (gunicorn 2 workers × 4 threads), no worker running")
    with Server(backend, backend.env()) as server:
        tokens = [user["jwt"] for user in setup["users"]]
        replies = all_at_once(buyers, lambda i: call(server.url, "POST", "/api/orders", token=tokens[i],
                                                     body=order_body({PRODUCT: 1})))
    statuses = sorted(r.status for r in replies)
    created = [r for r in replies if r.status == 201]
    refused = [r for r in replies if r.status == 409]
    say(f"answers: {dict((s, statuses.count(s)) for s in set(statuses))}")
    outcome.check(len(created) == stock, f"{len(created)} checkouts succeeded (stock was {stock})")
    outcome.check(len(refused) == buyers - stock and all(r.body and r.body.get("code") == "insufficient_stock"
                                                         for r in refused),
                  f"{len(refused)} were refused with 409 insufficient_stock")
    outcome.check(not any(r.status >= 500 or r.status == 0 for r in replies), "no 5xx and no dropped request")
    audit = django_side(backend, "audit", {"initial_stock": initial})
    row = audit["stock"][PRODUCT]
    outcome.check(row["available"] == 0 and row["reserved"] == stock,
                  f"{PRODUCT}: available {row['available']}, reserved {row['reserved']} (never below zero)")
    outcome.check(not audit["problems"], "stock of every product adds up: " + ("; ".join(audit["problems"]) or "yes"))
    outcome.facts = {"buyers": buyers, "stock": stock, "statuses": statuses, "latency_max_s": max(r.seconds for r in replies)}
    return outcome
