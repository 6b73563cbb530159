"""What every drill shares: a fresh store, HTTP from many threads, PASS/FAIL bookkeeping."""
from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import yaml

from bench.env import BASE_DIR, Backend, django_side, manage

SHIPPING = {"address": "1 Market Street", "city": "Springfield", "state": "IL", "zip": "62701"}
CARD_APPROVE = "4242424242424242"
CARD_DECLINE = "4000000000000002"
CARD_TIMEOUT_ONCE = "4000000000000119"


@dataclass
class Outcome:
    """A drill's verdict: checks that passed or failed, and what it did."""

    name: str
    checks: list[tuple[bool, str]] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    def check(self, ok: bool, message: str) -> bool:
        self.checks.append((bool(ok), message))
        print(f"    {'ok  ' if ok else 'FAIL'} {message}", flush=True)
        return bool(ok)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(ok for ok, _ in self.checks)


def say(message: str) -> None:
    print(f"  - {message}", flush=True)


def fresh_store(backend_name: str, tag: str, setup: dict | None = None) -> tuple[Backend, dict]:
    backend = Backend.make(backend_name, tag=tag)
    backend.reset()
    say(f"store in {backend.data_dir}, queue {backend.cluster_name}")
    return backend, django_side(backend, "setup", setup or {})


def workflow_publish(backend: Backend, changes: dict[str, object], *, note: str) -> str:
    """Publish a workflow version in this store, as an operator would: fixtures/workflow.yaml with
    `changes` by path ({"steps.payment.timeoutSeconds": 1}), through `manage.py workflow_import
    --publish`. Returns the command's words. The store's new orders run on it."""
    policy = yaml.safe_load((BASE_DIR / "fixtures" / "workflow.yaml").read_text())
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = policy
        for part in parents:
            node = node[part]
        node[last] = value
    backend.data_dir.mkdir(parents=True, exist_ok=True)
    path = backend.data_dir / "workflow.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return manage(backend, "workflow_import", str(path), "--publish", "--note", note).strip()


@dataclass
class Reply:
    status: int  # 0: no HTTP answer (refused, reset, timed out)
    body: dict | None
    error: str = ""
    seconds: float = 0.0
    headers: dict = field(default_factory=dict)  # lower-cased names


def call(base_url: str, method: str, path: str, *, token: str | None = None, body: dict | None = None,
         headers: dict | None = None, timeout: float = 30, data: bytes | None = None) -> Reply:
    """One request; `data` sends these bytes as the body instead of `body` as JSON."""
    parts = urlsplit(base_url)
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    started = time.perf_counter()
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        payload = data if data is not None else json.dumps(body) if body is not None else None
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        raw = response.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = {"raw": raw[:200].decode(errors="replace")}
        return Reply(response.status, parsed, seconds=time.perf_counter() - started,
                     headers={name.lower(): value for name, value in response.getheaders()})
    except (OSError, http.client.HTTPException) as exc:
        return Reply(0, None, error=f"{exc.__class__.__name__}: {exc}", seconds=time.perf_counter() - started)
    finally:
        connection.close()


def order_body(items: dict[str, int], *, card: str | None = CARD_APPROVE, zip_code: str = "62701") -> dict:
    body = {"items": [{"productId": pid, "quantity": qty} for pid, qty in items.items()],
            "shipping": {**SHIPPING, "zip": zip_code}}
    if card:
        body["payment"] = {"card": card}
    return body


def all_at_once(n: int, action: Callable[[int], Reply]) -> list[Reply]:
    """Run action(i) for i < n on n threads released together (a barrier), as a burst would."""
    barrier = threading.Barrier(n)

    def go(i: int) -> Reply:
        barrier.wait()
        return action(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(go, range(n)))


def new_key(prefix: str = "drill") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def orders_paced(url: str, token: str, keys: list[str], interval: float, *, product: str,
                 threads: int = 4) -> list[int | None]:
    """Place one order of `product` per key, one every `interval` s (on `threads` client
    threads), each with its Idempotency-Key and retried with it until answered; the order ids,
    None where the store refused (4xx) or never answered."""

    def place(key: str) -> int | None:
        body = order_body({product: 1}, card=CARD_APPROVE)
        for _ in range(100):
            reply = call(url, "POST", "/api/orders", token=token, body=body, headers={"Idempotency-Key": key})
            if reply.status in (200, 201):
                return reply.body["id"]
            if 400 <= reply.status < 500:
                return None
            time.sleep(0.2)
        return None

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = []
        for i, key in enumerate(keys):
            time.sleep(max(0.0, started + i * interval - time.monotonic()))
            futures.append(pool.submit(place, key))
        return [future.result() for future in futures]


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank q-th percentile (q in 0–100) of `values`; None when there are none."""
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))]


def seconds_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} s"
