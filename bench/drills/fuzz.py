"""Fuzz: schemathesis against /api/schema/, every operation, signed in (a customer's JWT, then
a staff member's), with the checks that say a response broke the contract: no 5xx, and every
status code, content type, header and body is one the schema documents.

Before it, hand-written hostile inputs that a schema-driven generator rarely makes: JSON nested
thousands deep on several endpoints (signed in and not), bodies over the size limit, huge
numbers (10**30, 1e400, NaN, an order whose total would overflow Order.total), other scripts'
digits (Arabic-Indic, full-width) in ZIP codes, card numbers, quantities, amounts and ?page=
and ?pageSize=. Each must be a 4xx in the API's JSON error shape (never a 5xx, never HTML), and
none may write anything: orders, lines, refunds, users, events and stock are counted before and
after.

schemathesis lives in its own venv (bench/.venv-fuzz, from requirements-bench.txt): it and
hypothesis register pytest plugins, which .venv's test runs should not load.
"""
from __future__ import annotations

import fcntl
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

from bench.drills.common import SHIPPING, Outcome, call, fresh_store, say
from bench.env import BASE_DIR, django_side
from bench.procs import Server

VENV = BASE_DIR / "bench" / ".venv-fuzz"
REQUIREMENTS = BASE_DIR / "requirements-bench.txt"
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_headers_conformance,response_schema_conformance")


def schemathesis() -> Path:
    """bench/.venv-fuzz/bin/schemathesis, installed from requirements-bench.txt when missing or stale
    (under a lock: two drills at once install it once)."""
    binary = VENV / "bin" / "schemathesis"
    stamp = VENV / ".installed-requirements-bench"
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / ".venv-fuzz.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists() and stamp.exists() and stamp.read_text() == REQUIREMENTS.read_text():
            return binary
        print("  - installing requirements-bench.txt into bench/.venv-fuzz ...", flush=True)
        if not (VENV / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
                       check=True)
        stamp.write_text(REQUIREMENTS.read_text())
    return binary


# Products the overflow case orders 99 of each, at the highest price a product can have.
PRICEY = {"prod-001": "99999999.99", "prod-002": "99999999.99"}
BODY_LIMIT = 2_621_440  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE (the store keeps the default)
ARABIC_ZIP, WIDE_ZIP = "٦٢٧٠١", "６２７０１"
ARABIC_CARD = "٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢"
WIDE_CARD = "４２４２４２４２４２４２４２４２"


def _nested(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def _order(items=None, *, zip_code="62701", card="4242424242424242", **extra) -> dict:
    body = {"items": items if items is not None else [{"productId": "prod-008", "quantity": 1}],
            "shipping": {**SHIPPING, "zip": zip_code}, "payment": {"card": card}}
    body.update(extra)
    return body


def _raw(value: dict) -> bytes:
    """JSON as Python writes it, NaN and 1e400 (json.loads → inf) included."""
    return json.dumps(value, allow_nan=True).encode()


def hostile_cases(setup: dict, *, quick: bool) -> list[dict]:
    """(name, method, path, who, body bytes, expect) of every hand-written case.

    expect: "400" (400 in the error shape), "4xx" (any 4xx in it), "size" (413 or 400),
    "limit" (a 4xx whose message names a limit), "any" (an answer in JSON, not a 5xx: a pageSize
    over the maximum is clamped to it)."""
    order = setup["order_id"]  # the customer's delivered order: refundable by staff
    depths = (1_000, 5_000) if quick else (1_000, 5_000, 100_000)
    cases = []
    deep_targets = [
        ("POST", "/api/orders", "customer"),
        ("POST", "/api/auth/login", None),
        ("POST", "/api/auth/register", None),
        ("POST", "/api/auth/refresh", None),
        ("PATCH", "/api/auth/profile", "customer"),
        ("POST", f"/api/orders/{order}/refund", "staff"),
        ("POST", f"/api/orders/{order}/cancel", "customer"),
    ]
    for method, path, who in deep_targets:
        for depth in depths:
            for kind in ("list", "object"):
                cases.append((f"{kind} nested {depth} deep", method, path, who, _nested(depth, kind), "400"))
    deep_items = b'{"items": ' + _nested(2_000, "list") + b', "shipping": ' + json.dumps(SHIPPING).encode() + b"}"
    cases.append(("items nested 2000 deep", "POST", "/api/orders", "customer", deep_items, "400"))

    big = BODY_LIMIT + 1024
    for method, path, who, field in [("POST", "/api/orders", "customer", "note"),
                                     ("POST", "/api/auth/login", None, "password"),
                                     ("POST", "/api/auth/register", None, "name"),
                                     ("POST", f"/api/orders/{order}/refund", "staff", "reason")]:
        cases.append((f"body of {big} bytes", method, path, who, json.dumps({field: "x" * big}).encode(), "size"))
    cases.append(("body of 2.6 MB of nesting", "POST", "/api/orders", "customer", _nested(big // 2, "list"), "size"))

    def item(quantity, product="prod-008"):
        return [{"productId": product, "quantity": quantity}]

    numbers = [
        ("quantity 10**30", _order(item(10 ** 30)), "limit"),
        ("quantity -10**30", _order(item(-10 ** 30)), "limit"),
        ("quantity 1e400", _order(item(float("inf"))), "400"),
        ("quantity NaN", _order(item(float("nan"))), "400"),
        ("quantity 1e30 (a float)", _order(item(1e30)), "400"),
        ("productId 10**30", _order(item(1, 10 ** 30)), "4xx"),
        ("expectedTotal 1e400", _order(expectedTotal=float("inf")), "400"),
        ("expectedTotal 10**30", _order(expectedTotal=10 ** 30), "limit"),
        ("expectedTotal NaN", _order(expectedTotal=float("nan")), "400"),
        ("expectedTotal '1e400'", _order(expectedTotal="1e400"), "400"),
        ("total over Order.total's 12 digits (2 × 99 at $99,999,999.99)",
         _order([{"productId": pid, "quantity": 99} for pid in PRICEY]), "limit"),
        ("50 lines × 99 at the top price", _order([{"productId": pid, "quantity": 99}
                                                   for pid in list(PRICEY) * 25]), "limit"),
        ("51 lines", _order([{"productId": "prod-008", "quantity": 1}] * 51), "limit"),
    ]
    for name, body, expect in numbers:
        cases.append((name, "POST", "/api/orders", "customer", _raw(body), expect))
    for name, amount, expect in [("refund 1e400", float("inf"), "400"), ("refund 10**30", 10 ** 30, "limit"),
                                 ("refund NaN", float("nan"), "400"), ("refund '1e400'", "1e400", "400"),
                                 ("refund -1e400", float("-inf"), "400"), ("refund 1e-400", 1e-400, "4xx"),
                                 ("refund 10**12 (over the order's total)", 10 ** 12, "limit")]:
        cases.append((name, "POST", f"/api/orders/{order}/refund", "staff",
                      _raw({"amount": amount, "reason": "fuzz"}), expect))

    unicode = [
        ("ZIP in Arabic-Indic digits", _order(zip_code=ARABIC_ZIP)),
        ("ZIP in full-width digits", _order(zip_code=WIDE_ZIP)),
        ("ZIP+4 in full-width digits", _order(zip_code=WIDE_ZIP + "-１２３４")),
        ("card in Arabic-Indic digits", _order(card=ARABIC_CARD)),
        ("card in full-width digits", _order(card=WIDE_CARD)),
        ("quantity '٣' (a string)", _order(item("٣"))),
        ("quantity '３' (a string)", _order(item("３"))),
        ("expectedTotal '٦٢٧٠١'", _order(expectedTotal="٦٢٧٠١")),
        ("expectedTotal '６２７０１.００'", _order(expectedTotal="６２７０１.００")),
    ]
    for name, body in unicode:
        cases.append((name, "POST", "/api/orders", "customer", _raw(body), "400"))
    for name, amount in [("refund '٦٢'", "٦٢"), ("refund '６２.５０'", "６２.５０"), ("refund '1_0'", "1_0")]:
        cases.append((name, "POST", f"/api/orders/{order}/refund", "staff",
                      _raw({"amount": amount, "reason": "fuzz"}), "400"))
    for path, who in [("/api/products", None), ("/api/orders", "customer"), ("/api/orders", "staff")]:
        for query, expect in [("page=٢", "400"), ("page=２", "400"), ("pageSize=٢", "400"), ("pageSize=２", "400"),
                              ("page=1&pageSize=１٠", "400"), ("page=²", "400"), ("page=1e400", "400"),
                              (f"page={10 ** 30}", "4xx"), (f"pageSize={10 ** 30}", "any")]:
            cases.append((f"GET {path}?{query}", "GET", f"{path}?{query}", who, None, expect))
    cases.append(("GET /api/orders/٢", "GET", "/api/orders/٢", "customer", None, "4xx"))
    return [dict(zip(("name", "method", "path", "who", "data", "expect"), case, strict=True)) for case in cases]


_LIMIT_WORDS = ("at most", "less than or equal", "greater than or equal", "no more than", "larger than", "limit",
                "maximum", "exceed")


def _verdict(reply, expect: str) -> str:
    """"" when the reply is what `expect` asks for; else what is wrong."""
    status, body = reply.status, reply.body if isinstance(reply.body, dict) else {}
    if status == 0:
        return f"no answer ({reply.error})"
    if status >= 500:
        return f"{status} (a server error)"
    if not reply.headers.get("content-type", "").startswith("application/json"):
        return f"{status} with Content-Type {reply.headers.get('content-type')!r}, not JSON"
    if expect == "any":
        return ""
    if not 400 <= status < 500:
        return f"{status}: accepted"
    if "error" not in body or "code" not in body:
        return f"{status} outside the error shape: {str(body)[:120]}"
    if expect == "400" and status != 400:
        return f"{status}, not 400"
    if expect == "size" and status not in (400, 413):
        return f"{status}, not 413 or 400"
    if expect == "limit" and not any(word in json.dumps(body).lower() for word in _LIMIT_WORDS):
        return f"{status} names no limit: {body.get('error')!r}"
    return ""


def run_hostile(server_url: str, backend, setup: dict, outcome: Outcome, *, quick: bool) -> None:
    prices = django_side(backend, "set_prices", {})["prices"]
    django_side(backend, "set_prices", {"prices": PRICEY, "stock": {pid: 1_000_000 for pid in PRICEY}})
    before = django_side(backend, "counts", {})
    cases = hostile_cases(setup, quick=quick)
    tokens = {"customer": setup["customer"]["jwt"], "staff": setup["staff"]["jwt"], None: None}
    wrong, statuses = [], {}
    for case in cases:
        path = quote(case["path"], safe="/?=&")  # other scripts' digits go over the wire percent-encoded
        reply = call(server_url, case["method"], path, token=tokens[case["who"]], data=case["data"], timeout=60)
        statuses[reply.status] = statuses.get(reply.status, 0) + 1
        problem = _verdict(reply, case["expect"])
        if problem:
            wrong.append(f"{case['name']} ({case['method']} {case['path'][:60]} as {case['who'] or 'anonymous'}): "
                         f"{problem}")
    after = django_side(backend, "counts", {})
    django_side(backend, "set_prices", {"prices": {pid: prices[pid] for pid in PRICEY}})  # as schemathesis knew them
    say(f"{len(cases)} hand-written hostile requests: {dict(sorted(statuses.items()))}")
    for line in wrong:
        print(f"      {line}", flush=True)
    outcome.check(not [w for w in wrong if "server error" in w], "hostile inputs: no 5xx")
    outcome.check(not wrong, f"hostile inputs: every one a 4xx in the API's JSON error shape, as expected "
                             f"({len(wrong)} not)")
    outcome.check(before == after, "hostile inputs wrote nothing (orders, lines, refunds, users, events, stock)"
                  + ("" if before == after else f": before {before}, after {after}"))


def run(backend_name: str = "sqlite", *, quick: bool = False) -> Outcome:
    examples = 1 if quick else 50
    outcome = Outcome("fuzz")
    binary = schemathesis()
    backend, setup = fresh_store(backend_name, "drill-fuzz", {})
    with Server(backend, backend.env()) as server:
        run_hostile(server.url, backend, setup, outcome, quick=quick)
    say(f"{backend.label}: schemathesis ({CHECKS}) on every operation of /api/schema/, "
        f"{examples} examples each, phases examples/coverage/fuzzing/stateful, as customer then staff")
    with Server(backend, backend.env()) as server, tempfile.TemporaryDirectory(prefix="h5fuzz-") as workdir:
        runs = {}
        for who in ("customer", "staff"):  # both at once: half the wall time
            command = [str(binary), "run", f"{server.url}/api/schema/",
                       "-H", f"Authorization: Bearer {setup[who]['jwt']}",
                       "--checks", CHECKS, "--max-examples", str(examples), "--seed", "20261123",
                       "--request-timeout", "20", "--no-color", "--warnings", "off"]
            (Path(workdir) / who).mkdir()
            runs[who] = subprocess.Popen(command, cwd=Path(workdir) / who, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)
        for who, process in runs.items():
            text, errors = process.communicate(timeout=1800)
            summary = re.search(r"Test cases:\s*\n\s*(.+)", text)
            operations = re.search(r"Tested: (\d+)", text)
            say(f"as {who}: exit {process.returncode}; operations tested: {operations.group(1) if operations else '?'}; "
                f"{summary.group(1).strip() if summary else text.strip().splitlines()[-1:]}")
            if process.returncode != 0:
                failures = text[text.find("FAILURES"):] if "FAILURES" in text else text[-6000:]
                print("\n".join("      " + line for line in failures[:8000].splitlines()), flush=True)
                if errors.strip():
                    print(errors[-2000:], flush=True)
            outcome.check(process.returncode == 0, f"as {who}: no 5xx, no response outside the schema")
    return outcome
