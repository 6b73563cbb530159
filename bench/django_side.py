"""The bench's Django-side helpers, run as `python -m bench.django_side <command> '<json>'`
in the environment of the store under test (see bench.env.django_side).

Each command prints one line `BENCH_JSON {...}` with its answer. They seed the store, count
queries per request, place orders and time them through the pipeline, and audit the
simulated providers' ledger and the stock for the drills.
"""
from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Sum  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402

from catalog.models import Product, StockMovement  # noqa: E402
from catalog.stock import stock_set  # noqa: E402
from orders.models import Order, OrderEvent, OrderLine, PaymentWebhookEvent  # noqa: E402
from orders.services import LineRequest, ShippingAddress, order_place  # noqa: E402
from orders.states import TERMINAL_STATES, StockStatus  # noqa: E402
from providers.models import GatewayCall  # noqa: E402

User = get_user_model()
PASSWORD = "Bench-Passw0rd!"
SHIPPING = {"address": "1 Market Street", "city": "Springfield", "state": "IL", "zip": "62701"}
CARD_APPROVE = "4242 4242 4242 4242"
BIG_STOCK = 1_000_000_000
BENCH_PRODUCT = "prod-008"  # the seed's cheapest product; the bench gives it a huge stock
# Notifications e-mailed inline between placement and the deliver_order event: the pipeline
# task sends each on commit of its transition; order.delivered's goes out after the event.
INLINE_NOTIFICATIONS = ("order.created", "order.paid", "order.shipped")


def answer(value: dict) -> None:
    sys.stdout.write("BENCH_JSON " + json.dumps(value, default=str) + "\n")
    sys.stdout.flush()


def jwt_for(user) -> str:
    return str(RefreshToken.for_user(user).access_token)


_password_hash: list[str] = []


def user_get_or_create(email: str, **extra):
    """A user whose password is PASSWORD (hashed once: the drills make a hundred users)."""
    from django.contrib.auth.hashers import make_password

    user = User.objects.filter(email=email).first()
    if user is None:
        if not _password_hash:
            _password_hash.append(make_password(PASSWORD))
        user = User.objects.create_user(email=email, password=None, name=extra.pop("name", "Bench Customer"), **extra)
        user.password = _password_hash[0]
        user.save(update_fields=["password"])
    return user


def place(user, *, product: str = BENCH_PRODUCT, quantity: int = 1, card: str | None = CARD_APPROVE,
          zip_code: str = "62701", key: str = "") -> Order:
    return order_place(user=user, lines=[LineRequest(product, quantity)],
                       shipping=ShippingAddress(**{**SHIPPING, "zip": zip_code}), card_number=card,
                       idempotency_key=key).order


# --- setup ----------------------------------------------------------------------------

def cmd_setup(payload: dict) -> dict:
    """Seed catalog and review rules, a customer (JWT, session) with one delivered order, staff,
    and `users` extra customers with JWTs (for the drills)."""
    # store_bootstrap's seeding, called directly.
    from workflows.management.commands.store_bootstrap import FIXTURES_DIR, seed_catalog, seed_review_rules

    seed_catalog(FIXTURES_DIR / "products.json")
    seed_review_rules(FIXTURES_DIR / "review_rules.json")
    _stock_to(BENCH_PRODUCT, payload.get("big_stock", BIG_STOCK))
    for public_id, stock in payload.get("stock", {}).items():
        _stock_to(public_id, stock)
    customer = user_get_or_create("bench-customer@example.com", name="Bench Customer")
    staff = user_get_or_create("bench-staff@example.com", name="Bench Staff", is_staff=True, is_superuser=True)

    order_id = None
    if payload.get("delivered_order", True):
        # Run the pipeline in-process, so the order has its full timeline (a realistic page).
        settings.PIPELINE_TASKS_SYNC = True
        scale = settings.SIMULATOR["LATENCY_SCALE"]
        settings.SIMULATOR["LATENCY_SCALE"] = 0
        try:
            order_id = place(customer, quantity=2).pk
        finally:
            settings.PIPELINE_TASKS_SYNC = False
            settings.SIMULATOR["LATENCY_SCALE"] = scale
    client = Client()
    client.force_login(customer)
    users = [user_get_or_create(f"bench-user-{i:04d}@example.com") for i in range(payload.get("users", 0))]
    return {
        "customer": {"id": customer.pk, "email": customer.email, "password": PASSWORD, "jwt": jwt_for(customer),
                     "session": client.cookies[settings.SESSION_COOKIE_NAME].value},
        "staff": {"id": staff.pk, "email": staff.email, "password": PASSWORD, "jwt": jwt_for(staff)},
        "users": [{"id": u.pk, "jwt": jwt_for(u)} for u in users],
        "order_id": order_id,
        "order_state": Order.objects.get(pk=order_id).state if order_id else None,
        "stock": dict(Product.objects.values_list("public_id", "stock")),
        "product": BENCH_PRODUCT,
    }


# --- queries per request ---------------------------------------------------------------

def cmd_queries(payload: dict) -> dict:
    """Queries (and status) of each request, after one warm-up request of the same kind."""
    customer = User.objects.get(email="bench-customer@example.com")
    results = {}
    for spec in payload["requests"]:
        client = Client()
        headers = {}
        if spec.get("auth") == "session":
            client.force_login(customer)
        elif spec.get("auth") == "jwt":
            headers["HTTP_AUTHORIZATION"] = f"Bearer {jwt_for(customer)}"
        counts, statuses = [], []
        for _ in range(2):
            body = spec.get("body")
            with CaptureQueriesContext(connection) as captured:
                if spec.get("method", "GET") == "POST":
                    response = client.post(spec["path"], data=json.dumps(body), content_type="application/json",
                                           **headers)
                else:
                    response = client.get(spec["path"], **headers)
            counts.append(len(captured.captured_queries))
            statuses.append(response.status_code)
        results[spec["name"]] = {"queries": counts[-1], "status": statuses[-1],
                                 "sql": [q["sql"][:160] for q in captured.captured_queries]
                                 if payload.get("verbose") else None}
    return results


def cmd_pipeline_queries(payload: dict) -> dict:
    """Queries and queue hops of one order's placement and of its whole pipeline (run in-process)."""
    from workflows import outbox, tasks

    customer = User.objects.get(email="bench-customer@example.com")
    scale, settings.SIMULATOR["LATENCY_SCALE"] = settings.SIMULATOR["LATENCY_SCALE"], 0
    enqueued = []
    original = outbox.async_task

    def counting_async_task(*args, **kwargs):
        enqueued.append(args[0])
        if kwargs.get("sync"):
            return original(*args, **kwargs)
        return None  # measuring: the pipeline is run below, by hand

    outbox.async_task = counting_async_task
    try:
        with CaptureQueriesContext(connection) as placing:
            order = place(customer)
        with CaptureQueriesContext(connection) as running:
            tasks.pipeline_run(order.pk)
    finally:
        outbox.async_task = original
        settings.SIMULATOR["LATENCY_SCALE"] = scale
    order = Order.objects.get(pk=order.pk)
    by_kind = Counter(q["sql"].split()[0].upper() for q in running.captured_queries)
    return {"placement_queries": len(placing.captured_queries), "pipeline_queries": len(running.captured_queries),
            "pipeline_queries_by_kind": dict(by_kind), "queue_hops": len(enqueued), "state": order.state,
            "sql": [q["sql"][:200] for q in running.captured_queries] if payload.get("verbose") else None}


# --- pipeline throughput and latency -----------------------------------------------------

def _wait_terminal(order_ids: list[int], timeout: float) -> tuple[bool, dict]:
    deadline = time.monotonic() + timeout
    while True:
        states = Counter(Order.objects.filter(pk__in=order_ids).values_list("state", flat=True))
        if sum(n for state, n in states.items() if state in TERMINAL_STATES) == len(order_ids):
            return True, dict(states)
        if time.monotonic() > deadline:
            return False, dict(states)
        time.sleep(0.05)


def _delivered_at(order_ids: list[int]) -> dict[int, datetime]:
    return dict(OrderEvent.objects.filter(order_id__in=order_ids, transition="deliver_order")
                .values_list("order_id", "created_at"))


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    index = min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))
    return values[index]


def cmd_place(payload: dict) -> dict:
    """Place `n` orders (card 4242) as fast as possible, or one every `interval` seconds."""
    customer = User.objects.get(email="bench-customer@example.com")
    interval = payload.get("interval", 0)
    started = time.monotonic()
    order_ids = []
    for i in range(payload["n"]):
        if interval:
            time.sleep(max(0.0, started + i * interval - time.monotonic()))
        order_ids.append(place(customer).pk)
    return {"order_ids": order_ids, "placement_seconds": time.monotonic() - started}


def cmd_throughput(payload: dict) -> dict:
    """Wait for the orders to end; orders/s from the first placement (or the first pipeline event)
    to the last deliver_order event."""
    order_ids = payload["order_ids"]
    done, states = _wait_terminal(order_ids, payload.get("timeout", 600))
    created = list(Order.objects.filter(pk__in=order_ids).values_list("created_at", flat=True))
    first_event = (OrderEvent.objects.filter(order_id__in=order_ids, transition="start_address_check")
                   .order_by("created_at").values_list("created_at", flat=True).first())
    delivered = _delivered_at(order_ids)
    if not delivered:
        return {"done": done, "states": states}
    last = max(delivered.values())
    e2e = (last - min(created)).total_seconds()
    pipeline = (last - first_event).total_seconds()
    return {"done": done, "states": states, "n": len(order_ids), "delivered": len(delivered),
            "e2e_seconds": e2e, "orders_per_s": len(delivered) / e2e if e2e > 0 else None,
            "pipeline_seconds": pipeline, "pipeline_orders_per_s": len(delivered) / pipeline if pipeline > 0 else None}


def _notification_latency_ms(order_id: int, event_type: str) -> int:
    from providers.simulation import seeded_rng as _rng

    return _rng(f"order-{order_id}-{event_type}").randint(*settings.SIMULATOR["NOTIFICATION_LATENCY_MS"])


def cmd_latency(payload: dict) -> dict:
    """Per order: placement → deliver_order, against the floor (its simulated latencies)."""
    order_ids = payload["order_ids"]
    done, states = _wait_terminal(order_ids, payload.get("timeout", 600))
    scale = settings.SIMULATOR["LATENCY_SCALE"]
    delivered = _delivered_at(order_ids)
    created = dict(Order.objects.filter(pk__in=order_ids).values_list("pk", "created_at"))
    first_step = dict(OrderEvent.objects.filter(order_id__in=order_ids, transition="start_address_check")
                      .values_list("order_id", "created_at"))
    ledger = defaultdict(int)
    for order_id, latency in GatewayCall.objects.filter(order_id__in=order_ids).values_list("order_id", "latency_ms"):
        ledger[order_id] += latency
    rows = []
    for order_id, at in delivered.items():
        notified = sum(_notification_latency_ms(order_id, event) for event in INLINE_NOTIFICATIONS)
        floor_ms = (ledger[order_id] + notified) * scale
        elapsed_ms = (at - created[order_id]).total_seconds() * 1000
        # First hop: placement → the worker's first transition, less the inline order.created e-mail.
        hop_ms = ((first_step[order_id] - created[order_id]).total_seconds() * 1000
                  - _notification_latency_ms(order_id, "order.created") * scale)
        rows.append({"order_id": order_id, "elapsed_ms": elapsed_ms, "floor_ms": floor_ms,
                     "overhead_ms": elapsed_ms - floor_ms, "first_hop_ms": hop_ms})

    def stats(key: str) -> dict:
        values = [row[key] for row in rows]
        return {"p50": _percentile(values, 50), "p95": _percentile(values, 95),
                "mean": statistics.fmean(values) if values else None}

    return {"done": done, "states": states, "n": len(order_ids), "delivered": len(rows),
            "elapsed_ms": stats("elapsed_ms"), "floor_ms": stats("floor_ms"), "overhead_ms": stats("overhead_ms"),
            "first_hop_ms": stats("first_hop_ms"), "rows": rows if payload.get("verbose") else None}


def cmd_cluster_settings(payload: dict) -> dict:
    """The worker cluster's settings in this environment (the bench's default-cluster runs)."""
    return {"workers": settings.Q_CLUSTER["workers"], "concurrent_runs": settings.PIPELINE.get("CONCURRENT_RUNS"),
            "latency_scale": settings.SIMULATOR["LATENCY_SCALE"], "backoff_scale": settings.PIPELINE["BACKOFF_SCALE"]}


def cmd_cleanup(payload: dict) -> dict:
    """Empty the task queue and delete every order but `keep` (the HTTP bench's placed orders)."""
    from django_q.brokers import get_broker

    get_broker().purge_queue()
    deleted, _ = Order.objects.exclude(pk__in=payload.get("keep", [])).delete()
    _stock_to(BENCH_PRODUCT, payload.get("big_stock", BIG_STOCK))
    return {"deleted_rows": deleted}


# --- drills ---------------------------------------------------------------------------

def cmd_states(payload: dict) -> dict:
    ids = payload.get("order_ids")
    queryset = Order.objects.filter(pk__in=ids) if ids is not None else Order.objects.all()
    states = Counter(queryset.values_list("state", flat=True))
    working = sorted(queryset.exclude(state__in=TERMINAL_STATES).values_list("pk", flat=True))
    return {"states": dict(states), "working": working, "total": sum(states.values())}


def cmd_sweep(payload: dict) -> dict:
    """Run the stuck-order sweeper once, as its schedule would."""
    from workflows.tasks import sweep_stuck_orders

    return {"requeued": sweep_stuck_orders()}


def cmd_orders_by_key(payload: dict) -> dict:
    """The orders with these Idempotency-Keys (drills: did every 2xx keep its order?)."""
    rows = Order.objects.filter(idempotency_key__in=payload["keys"]).values_list("idempotency_key", "pk")
    by_key = defaultdict(list)
    for key, pk in rows:
        by_key[key].append(pk)
    lines = dict(Order.objects.filter(idempotency_key__in=payload["keys"]).annotate(n=Sum("lines__quantity"))
                 .values_list("pk", "n"))
    return {"by_key": by_key, "quantities": lines, "orders_total": Order.objects.count()}


def cmd_counts(payload: dict) -> dict:
    """How many orders, order lines, refunds, users and stock movements exist (did a request write anything?)."""
    from orders.models import Refund

    return {"orders": Order.objects.count(), "lines": OrderLine.objects.count(), "refunds": Refund.objects.count(),
            "users": User.objects.count(), "events": OrderEvent.objects.count(),
            "stock": dict(Product.objects.values_list("public_id", "stock"))}


def cmd_set_prices(payload: dict) -> dict:
    """Set products' prices (and stocks): {"prices": {public id: "99999999.99"}, "stock": {public id: n}}."""
    for public_id, price in payload.get("prices", {}).items():
        Product.objects.filter(public_id=public_id).update(price=price)
    for public_id, stock in payload.get("stock", {}).items():
        _stock_to(public_id, stock)
    return {"prices": {pid: str(price) for pid, price in Product.objects.values_list("public_id", "price")}}


def cmd_orders_overview(payload: dict) -> dict:
    """Every order: id, Idempotency-Key, state, created and last changed (epoch seconds), and whether
    it is terminal (drills: how long after an outage did the orders end?)."""
    rows = Order.objects.order_by("pk").values_list("pk", "idempotency_key", "state", "created_at", "updated_at")
    return {"orders": [{"id": pk, "key": key, "state": state, "created": created.timestamp(),
                        "updated": updated.timestamp(), "terminal": state in TERMINAL_STATES}
                       for pk, key, state, created, updated in rows]}


def cmd_outage_orders(payload: dict) -> dict:
    """Per order (all, or `order_ids`): state, failure reason, when it was placed, first reached
    `paying`, was paid and shipped (epoch seconds, from its events), and its charge calls in the
    simulator's ledger (every key; `ok` ones apart). The provider-outage drill's figures."""
    ids = payload.get("order_ids")
    orders = Order.objects.all() if ids is None else Order.objects.filter(pk__in=ids)
    rows = {pk: {"id": pk, "state": state, "reason": reason, "created": created.timestamp(), "paying": None,
                 "paid": None, "shipped": None, "charge_calls": 0, "ok_charges": 0, "refunds": 0}
            for pk, state, reason, created in orders.values_list("pk", "state", "failure_reason", "created_at")}
    events = (OrderEvent.objects.filter(order_id__in=list(rows)).exclude(target_state="")
              .order_by("created_at", "id").values_list("order_id", "transition", "target_state", "created_at"))
    for order_id, transition, target, at in events:
        row = rows[order_id]
        if target == "paying" and row["paying"] is None:
            row["paying"] = at.timestamp()
        if transition == "payment_approved" and row["paid"] is None:
            row["paid"] = at.timestamp()
        if transition == "shipping_confirmed" and row["shipped"] is None:
            row["shipped"] = at.timestamp()
    calls = GatewayCall.objects.filter(gateway="payment", order_id__in=list(rows))
    for order_id, operation, outcome in calls.values_list("order_id", "operation", "outcome"):
        if operation == "charge":
            rows[order_id]["charge_calls"] += 1
            rows[order_id]["ok_charges"] += outcome == "ok"
        elif operation == "refund" and outcome == "ok":
            rows[order_id]["refunds"] += 1
    return {"orders": list(rows.values()), "now": time.time()}


def cmd_skew_orders(payload: dict) -> dict:
    """Per order of `order_ids` (the clock-skew drill): state, failure reason, when its charge first
    answered pending and when it was paid (epoch seconds, the worker's clock: both written by the
    pipeline or the reconciliation in the worker), whether reconciliation paid it, its charge calls
    by outcome and refunds in the simulator's ledger, and its webhook deliveries kept, by outcome."""
    ids = payload["order_ids"]
    rows = {pk: {"id": pk, "state": state, "reason": reason, "pending": None, "paid": None, "reconciled": False,
                 "charges": {}, "refunds": 0, "callbacks": {}}
            for pk, state, reason in Order.objects.filter(pk__in=ids).values_list("pk", "state", "failure_reason")}
    events = (OrderEvent.objects.filter(order_id__in=ids).order_by("created_at", "id")
              .values_list("order_id", "event_type", "transition", "detail", "created_at"))
    for order_id, event_type, transition, detail, at in events:
        row = rows[order_id]
        if event_type == "order.payment_pending" and row["pending"] is None:
            row["pending"] = at.timestamp()
        if transition == "payment_approved" and row["paid"] is None:
            row["paid"], row["reconciled"] = at.timestamp(), bool((detail or {}).get("reconciled"))
    for order_id, operation, outcome in (GatewayCall.objects.filter(gateway="payment", order_id__in=ids, final=True)
                                         .values_list("order_id", "operation", "outcome")):
        if operation == "charge":
            rows[order_id]["charges"][outcome] = rows[order_id]["charges"].get(outcome, 0) + 1
        elif operation == "refund":
            rows[order_id]["refunds"] += 1
    for order_id, outcome in PaymentWebhookEvent.objects.filter(order_id__in=ids).values_list("order_id", "outcome"):
        rows[order_id]["callbacks"][outcome] = rows[order_id]["callbacks"].get(outcome, 0) + 1
    return {"orders": list(rows.values())}


def cmd_webhook_state(payload: dict) -> dict:
    """The webhooks drill's view of the store: the states of `order_ids`, and per endpoint of
    `endpoint_ids` whether it is enabled, its failures in a row, why it was disabled and its rows
    still pending. With `full`, also the orders' published events (OrderEvent rows whose type is
    in the webhooks' catalogue, webhooks.events.EVENT_TYPES, in the order's own order), every
    delivery of those endpoints and every attempt (times in epoch seconds)."""
    from django.db.models import Count

    from webhooks.events import EVENT_TYPES
    from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

    order_ids, endpoint_ids = payload["order_ids"], payload["endpoint_ids"]
    states = dict(Order.objects.filter(pk__in=order_ids).values_list("pk", "state"))
    pending = dict(WebhookDelivery.objects.filter(endpoint_id__in=endpoint_ids, status="pending").order_by()
                   .values_list("endpoint_id").annotate(n=Count("pk")))
    endpoints = {pk: {"enabled": enabled, "failures": failures, "reason": reason, "pending": pending.get(pk, 0)}
                 for pk, enabled, failures, reason in WebhookEndpoint.objects.filter(pk__in=endpoint_ids)
                 .values_list("pk", "enabled", "consecutive_failures", "disabled_reason")}
    result = {"states": states, "terminal": sorted(TERMINAL_STATES), "endpoints": endpoints, "now": time.time()}
    if not payload.get("full"):
        return result
    result["event_types"] = list(EVENT_TYPES)
    result["events"] = [[pk, order_id, event_type, at.timestamp()] for pk, order_id, event_type, at in
                        OrderEvent.objects.filter(order_id__in=order_ids, event_type__in=EVENT_TYPES)
                        .order_by("created_at", "pk").values_list("pk", "order_id", "event_type", "created_at")]
    result["deliveries"] = [
        {"id": pk, "endpoint": endpoint_id, "order": order_id, "event": event_id, "type": event_type,
         "message_id": message_id, "status": status, "attempts": attempts,
         "delivered": delivered.timestamp() if delivered else None}
        for pk, endpoint_id, order_id, event_id, event_type, message_id, status, attempts, delivered in
        WebhookDelivery.objects.filter(endpoint_id__in=endpoint_ids).order_by("pk").values_list(
            "pk", "endpoint_id", "order_id", "event_id", "event_type", "message_id", "status", "attempts",
            "delivered_at")]
    result["attempts"] = [
        {"endpoint": endpoint_id, "delivery": delivery_id, "at": at.timestamp(), "status": status, "ok": ok,
         "error": error}
        for endpoint_id, delivery_id, at, status, ok, error in
        WebhookAttempt.objects.filter(delivery__endpoint_id__in=endpoint_ids).order_by("pk").values_list(
            "delivery__endpoint_id", "delivery_id", "at", "status_code", "ok", "error")]
    return result


def _stock_to(public_id: str, wanted: int) -> None:
    """Set a product's stock as staff would (catalog.stock.stock_set, with its ledger row), again
    when a running pipeline moved it meanwhile."""
    while True:
        product = Product.objects.get(public_id=public_id)
        if stock_set(product_id=product.pk, seen=product.stock, wanted=wanted):
            return


def cmd_audit(payload: dict) -> dict:
    """The ledger and the stock: nothing charged or refunded twice, every unit accounted for."""
    initial = payload["initial_stock"]
    problems = []
    charges = Counter(GatewayCall.objects.filter(gateway="payment", operation="charge", outcome="ok")
                      .values_list("order_id", flat=True))
    refunds = Counter(GatewayCall.objects.filter(gateway="payment", operation="refund", outcome="ok")
                      .values_list("order_id", flat=True))
    labels = Counter(GatewayCall.objects.filter(gateway="shipping", operation="label", outcome="ok")
                     .values_list("order_id", flat=True))
    twice_charged = [order_id for order_id, n in charges.items() if n > 1]
    twice_refunded = [order_id for order_id, n in refunds.items() if n > 1]
    twice_shipped = [order_id for order_id, n in labels.items() if n > 1]
    if twice_charged:
        problems.append(f"charged twice: orders {twice_charged[:10]}")
    if twice_refunded:
        problems.append(f"refunded twice: orders {twice_refunded[:10]}")
    if twice_shipped:
        problems.append(f"two shipping labels: orders {twice_shipped[:10]}")
    orders = Order.objects.all()
    for order in orders.filter(state__in=["delivered", "refunded"]).only("pk", "state", "total", "refunded_amount"):
        if charges.get(order.pk, 0) != 1:
            problems.append(f"order {order.pk} is {order.state} with {charges.get(order.pk, 0)} charges")
        if order.state == "refunded" and refunds.get(order.pk, 0) != 1:
            problems.append(f"order {order.pk} is refunded with {refunds.get(order.pk, 0)} refunds")
    # Refused before any money moved: the carrier's address check comes before the charge.
    refused = set(orders.filter(events__transition="address_undeliverable").values_list("pk", flat=True))
    if charged_refused := sorted(pk for pk in refused if charges.get(pk)):
        problems.append(f"charged although the carrier refused the address: orders {charged_refused[:10]}")
    leaked = list(orders.filter(state__in=TERMINAL_STATES, stock_status=StockStatus.RESERVED).values_list("pk", flat=True))
    if leaked:
        problems.append(f"terminal orders still holding stock: {leaked[:10]}")

    held = defaultdict(lambda: {"reserved": 0, "sold": 0})
    for public_id, status, quantity in OrderLine.objects.values_list("product_public_id", "order__stock_status",
                                                                     "quantity"):
        if status in ("reserved", "sold"):
            held[public_id][status] += quantity
    stock = {}
    for public_id, available in Product.objects.values_list("public_id", "stock"):
        if public_id not in initial:
            continue
        row = {"initial": initial[public_id], "available": available, **held[public_id]}
        row["adds_up"] = row["initial"] == available + row["reserved"] + row["sold"]
        if not row["adds_up"]:
            problems.append(f"{public_id}: initial {row['initial']} != available {available} + reserved "
                            f"{row['reserved']} + sold {row['sold']}")
        stock[public_id] = row
    ledger = dict(StockMovement.objects.order_by().values_list("product__public_id").annotate(total=Sum("delta")))
    for public_id, available in Product.objects.values_list("public_id", "stock"):
        if ledger.get(public_id, 0) != available:
            problems.append(f"{public_id}: the stock ledger sums to {ledger.get(public_id, 0)}, the stock is {available}")
    return {"problems": problems, "charges": sum(charges.values()), "refunds": sum(refunds.values()),
            "address_refused": len(refused), "orders": orders.count(), "states": dict(Counter(orders.values_list("state", flat=True))), "stock": stock}


COMMANDS = {name[4:]: func for name, func in globals().items() if name.startswith("cmd_")}

def serve() -> None:
    """One JSON command per stdin line ({"command", "payload"}); one BENCH_JSON/BENCH_ERROR line back."""
    import traceback

    from django.db import close_old_connections

    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        close_old_connections()
        try:
            result = COMMANDS[request["command"]](request.get("payload") or {})
        except Exception:  # noqa: BLE001 - reported to the caller, which raises
            sys.stdout.write("BENCH_ERROR " + json.dumps(traceback.format_exc()) + "\n")
        else:
            answer(result)
        sys.stdout.flush()


if __name__ == "__main__":
    random.seed(os.environ.get("SIM_SEED"))
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        command, raw = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "{}"
        if command not in COMMANDS:
            raise SystemExit(f"unknown command {command!r}; one of {', '.join(COMMANDS)}")
        answer(COMMANDS[command](json.loads(raw)))
