"""Webhooks: a receiver answers 500, then is down, while 100 orders go through; a second
endpoint never answers 2xx.

The drill runs a webhook receiver of its own on loopback (a threaded HTTP server in the drill's
process) that checks every delivery's Standard Webhooks signature with its endpoint's secret,
as docs/webhooks.md tells receivers to (stdlib hmac), and records each arrival: webhook-id,
type, order, time, its answer. Through `POST /api/webhooks` (staff JWT) it registers endpoint A
(`["*"]`, path /a) and endpoint B (`["*"]`, path /b, which answers 500 to everything); the
secrets come from those answers. The store runs with WEBHOOK_ALLOW_PRIVATE=1 (loopback),
retries after 2 s doubling up to 30 s (PIPELINE_BACKOFF_SCALE 1; the dispatcher, a schedule
every minute, sends the retries that are due) and the file-based e-mail backend into the
drill's folder, where the drill reads what staff were told.

1. N orders (100; 16 with --quick) through the API, one every 0.5 s (an Idempotency-Key each,
   retried with it). 15 s in (1 s with --quick), the receiver answers 500 on /a for 10 s (1.5 s),
   then stops listening (connections refused) for 10 s (1.5 s), then listens again on the same port.
2. Wait until every order is terminal and A has no pending delivery (DRAIN_SECONDS at most
   after the receiver came back), and until B is disabled (DISABLE_SECONDS at most).
3. B's receiver is fixed (/b answers 2xx) and staff enable B again (`PATCH {"enabled": true}`):
   wait until its backlog is sent (BACKLOG_SECONDS at most).

WEBHOOK_DISABLE_AFTER is 2N: B, which fails every attempt, fails once per order when its first
event is recorded and once more per order in each dispatcher round, so the first round after
the orders disables it; A fails only during the outage, at most (orders placed or in flight
then) × (1 + the dispatcher rounds in it), well below 2N.

Passes when: every order placed and terminal; every signature verified; for A, the webhook-ids
answered 2xx are exactly A's deliveries in the store, every one delivered; each order's
published events (OrderEvent rows whose type is in the webhooks' catalogue, so new event types
count without a change here) arrived, each once, in the order of the order's events (first 2xx
arrival per id); no id answered 2xx arrived again, and every arrival of an id carried the same
body; A failed attempts during the outage (answered 500 and not connected) and was never
disabled; B ended disabled, and an e-mail "Webhook endpoint disabled: <B's URL>" went to the
staff who manage webhooks; after B was enabled again its backlog arrived the same way (complete,
in order, once). Prints the orders, events delivered, attempts and retries, the delay from event
to first 2xx (median, p95, max), the time to drain after the receiver came back, and after how
many failures B was disabled.
"""
from __future__ import annotations

import base64
import email
import hashlib
import hmac
import json
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.drills.common import (
    Outcome,
    call,
    fresh_store,
    new_key,
    orders_paced,
    percentile,
    say,
    seconds_text,
)
from bench.env import django_side
from bench.procs import Cluster, Server

PRODUCT = "prod-008"  # the bench's product with a stock of 10⁹
PACE = 0.5  # seconds between two orders
SIGNATURE_TOLERANCE = 300  # seconds, as docs/webhooks.md's receiver
DRAIN_SECONDS = 240  # receiver back → every order terminal and A's outbox empty (dispatcher rounds: ~1 min)
DISABLE_SECONDS = 180  # then → B disabled
BACKLOG_SECONDS = 90  # B enabled again → its backlog sent
DISABLED_SUBJECT = "Webhook endpoint disabled: "
STAFF_EMAIL = "bench-staff@example.com"  # bench.django_side's staff user (a superuser: manages webhooks)
DRILL_ENV = {
    "WEBHOOK_ALLOW_PRIVATE": "1",
    "WEBHOOK_BACKOFF_SECONDS": "2",
    "WEBHOOK_BACKOFF_MAX_SECONDS": "30",
    "PIPELINE_BACKOFF_SCALE": "1",  # it scales the webhooks' backoff too (the bench's 0 would make it none)
    "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
}


@dataclass
class Arrival:
    seq: int
    at: float
    path: str
    message_id: str
    type: str
    order: int | None
    status: int
    verified: bool
    digest: str


@dataclass
class Receiver:
    """A threaded HTTP server on 127.0.0.1: POSTs to a path whose secret it knows are checked
    and recorded; a failing path answers 500; `down()` stops listening, `up()` listens again on
    the same port."""

    secrets: dict[str, str] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)
    arrivals: list[Arrival] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def verified(self, path: str, headers, body: bytes) -> bool:
        """docs/webhooks.md's check: HMAC-SHA256 of "<id>.<timestamp>.<body>" keyed with the
        secret's decoded part, against any "v1," signature; the timestamp near our clock."""
        secret = self.secrets.get(path)
        msg_id, timestamp, signatures = (headers.get("webhook-id"), headers.get("webhook-timestamp"),
                                         headers.get("webhook-signature"))
        if not (secret and msg_id and timestamp and signatures and timestamp.isdigit()):
            return False
        if abs(time.time() - int(timestamp)) > SIGNATURE_TOLERANCE:
            return False
        key = base64.b64decode(secret.removeprefix("whsec_"))
        expected = base64.b64encode(hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest())
        return any(hmac.compare_digest(b"v1," + expected, sig.encode()) for sig in signatures.split())

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                ok = receiver.verified(self.path, self.headers, body)
                try:
                    payload = json.loads(body)
                    kind, order = str(payload.get("type", "")), (payload.get("data") or {}).get("id")
                except ValueError:
                    kind, order = "", None
                status = 401 if not ok else 500 if self.path in receiver.failing else 200
                with receiver._lock:
                    receiver.arrivals.append(Arrival(len(receiver.arrivals), time.time(), self.path,
                                                     self.headers.get("webhook-id", ""), kind, order, status, ok,
                                                     hashlib.sha256(body).hexdigest()))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        return Handler

    def up(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _wait(backend, payload: dict, done, seconds: float) -> tuple[bool, dict, float]:
    started = time.monotonic()
    while True:
        state = django_side(backend, "webhook_state", payload)
        if done(state) or time.monotonic() - started > seconds:
            return done(state), state, time.monotonic() - started
        time.sleep(1)


def _mails(folder: Path) -> list[email.message.Message]:
    """The e-mails the file-based backend wrote (one file per connection, messages separated by a line of 79 '-')."""
    found = []
    for path in sorted(folder.glob("*.log")):
        for part in path.read_text(errors="replace").split("\n" + "-" * 79 + "\n"):
            if part.strip():
                found.append(email.message_from_string(part.strip("\n")))
    return found


def _delivered_in_order(name: str, path: str, endpoint_id: int, audit: dict, arrivals: list[Arrival],
                        outcome: Outcome) -> dict:
    """The checks shared by A and by B's backlog: the ids answered 2xx are the endpoint's
    deliveries, all delivered; every published event of every order arrived, once, in order."""
    rows = [row for row in audit["deliveries"] if row["endpoint"] == endpoint_id]
    by_message = {row["message_id"]: row for row in rows}
    mine = [a for a in arrivals if a.path == path]
    answered = [a for a in mine if 200 <= a.status < 300]
    ok_count = Counter(a.message_id for a in answered)
    twice = [msg for msg, count in ok_count.items() if count > 1]
    bodies = defaultdict(set)
    for arrival in mine:
        bodies[arrival.message_id].add(arrival.digest)
    changed = [msg for msg, digests in bodies.items() if len(digests) > 1]
    undelivered = [row["id"] for row in rows if row["status"] != "delivered"]
    events_of = defaultdict(list)  # order → its published events' ids, in the order's order
    for event_id, order_id, _, _ in audit["events"]:
        events_of[order_id].append(event_id)
    arrived_of = defaultdict(list)  # order → event ids of the first 2xx arrival per id, by arrival
    seen = set()
    for arrival in sorted(answered, key=lambda a: a.seq):
        row = by_message.get(arrival.message_id)
        if row is None or arrival.message_id in seen:
            continue
        seen.add(arrival.message_id)
        arrived_of[row["order"]].append(row["event"])
    missing = {order: [e for e in events if e not in set(arrived_of[order])] for order, events in events_of.items()}
    missing = {order: events for order, events in missing.items() if events}
    disordered = [order for order, events in events_of.items()
                  if not missing.get(order) and arrived_of[order] != events]
    extra_rows = [row["id"] for row in rows if row["event"] not in {e for events in events_of.values() for e in events}]
    outcome.check(set(ok_count) == set(by_message) and not undelivered,
                  f"{name}: the webhook-ids answered 2xx are its {len(by_message)} deliveries in the store, all "
                  f"delivered ({len(set(ok_count) - set(by_message))} unknown, {len(set(by_message) - set(ok_count))} "
                  f"never answered 2xx, {len(undelivered)} not delivered)")
    outcome.check(not missing and not extra_rows,
                  f"{name}: none missing: every published event of the {len(events_of)} orders "
                  f"({sum(len(e) for e in events_of.values())}, types {dict(Counter(r['type'] for r in rows))}) "
                  f"arrived" + (f"; missing on {len(missing)} orders, e.g. {next(iter(missing.items()))}" if missing
                                else "") + (f"; rows of no published event: {extra_rows[:5]}" if extra_rows else ""))
    outcome.check(not disordered, f"{name}: in order per order (first 2xx arrival per id in the order of the "
                                  f"order's events)" + (f"; not: orders {disordered[:10]}" if disordered else ""))
    outcome.check(not twice and not changed,
                  f"{name}: none twice: no webhook-id answered 2xx arrived again ({len(mine)} arrivals, "
                  f"{len(answered)} answered 2xx, {len(ok_count)} ids), each id's body the same on every attempt"
                  + (f"; twice: {twice[:5]}" if twice else "") + (f"; body changed: {changed[:5]}" if changed else ""))
    return {"rows": rows, "answered": answered, "mine": mine, "by_message": by_message}


def run(backend_name: str = "sqlite", *, quick: bool = False) -> Outcome:
    n, fail_at, fail_for, down_for = (16, 1.0, 1.5, 1.5) if quick else (100, 15.0, 10.0, 10.0)
    disable_after = 2 * n
    outcome = Outcome("webhooks")
    backend, setup = fresh_store(backend_name, "drill-webhooks", {"delivered_order": False})
    mail_dir = backend.data_dir / "mail"
    mail_dir.mkdir()
    backend.overrides.update({**DRILL_ENV, "WEBHOOK_DISABLE_AFTER": str(disable_after),
                              "EMAIL_FILE_PATH": str(mail_dir)})
    token, staff_token = setup["customer"]["jwt"], setup["staff"]["jwt"]
    say(f"{backend.label}: {n} orders, one every {PACE} s; receiver /a answers 500 from {fail_at:.0f} s for "
        f"{fail_for:.0f} s, then is down for {down_for:.0f} s; /b answers 500 throughout; WEBHOOK_DISABLE_AFTER "
        f"{disable_after}, backoff {DRILL_ENV['WEBHOOK_BACKOFF_SECONDS']} s doubling to "
        f"{DRILL_ENV['WEBHOOK_BACKOFF_MAX_SECONDS']} s, the dispatcher every minute")
    receiver = Receiver(failing={"/b"})
    receiver.up()
    say(f"receiver on {receiver.url}")
    server = Server(backend, backend.env())
    cluster = Cluster(backend, backend.env())
    server.start()
    cluster.start()
    times: dict[str, float] = {}
    ids: list[int] = []
    endpoint_ids: dict[str, int] = {}
    drained = disabled = backlog_sent = False
    backlog_in = 0.0
    state: dict = {}
    try:
        for name, path in (("A", "/a"), ("B", "/b")):
            reply = call(server.url, "POST", "/api/webhooks", token=staff_token,
                         body={"url": receiver.url + path, "events": ["*"], "description": f"drill endpoint {name}"})
            if reply.status != 201:
                raise RuntimeError(f"POST /api/webhooks ({name}) answered {reply.status}: {reply.body}")
            endpoint_ids[name] = reply.body["id"]
            receiver.secrets[path] = reply.body["secret"]
        say(f"registered A (id {endpoint_ids['A']}, {receiver.url}/a) and B (id {endpoint_ids['B']}, "
            f"{receiver.url}/b) through POST /api/webhooks; secrets from its answers")

        def director(started: float) -> None:
            time.sleep(max(0.0, started + fail_at - time.monotonic()))
            receiver.failing.add("/a")
            times["fail"] = time.time()
            time.sleep(max(0.0, started + fail_at + fail_for - time.monotonic()))
            receiver.down()
            times["down"] = time.time()
            time.sleep(max(0.0, started + fail_at + fail_for + down_for - time.monotonic()))
            receiver.failing.discard("/a")
            receiver.up()
            times["up"] = time.time()

        started = time.monotonic()
        outage = threading.Thread(target=director, args=(started,), name="outage", daemon=True)
        outage.start()
        keys = [new_key("webhooks") for _ in range(n)]
        ids = [order_id for order_id in orders_paced(server.url, token, keys, PACE, product=PRODUCT) if order_id]
        outage.join()
        say(f"{len(ids)}/{n} orders placed in {time.monotonic() - started:.1f} s; /a answered 500 for "
            f"{times['down'] - times['fail']:.1f} s, the receiver was down for {times['up'] - times['down']:.1f} s")
        payload = {"order_ids": ids, "endpoint_ids": list(endpoint_ids.values())}
        a, b = str(endpoint_ids["A"]), str(endpoint_ids["B"])

        def all_terminal(s: dict) -> bool:
            return len(s["states"]) == len(ids) and all(v in s["terminal"] for v in s["states"].values())

        drained, state, _ = _wait(
            backend, payload, lambda s: all_terminal(s) and s["endpoints"][a]["pending"] == 0,
            max(0.0, DRAIN_SECONDS - (time.time() - times["up"])))
        times["drained"] = time.time()
        say(f"{'every order terminal and A drained' if drained else 'NOT every order terminal and A drained'} "
            f"{times['drained'] - times['up']:.1f} s after the receiver came back: "
            f"{dict(Counter(state['states'].values()))}, A pending {state['endpoints'][a]['pending']}")
        disabled, state, _ = _wait(backend, payload, lambda s: not s["endpoints"][b]["enabled"],
                                             DISABLE_SECONDS)
        say(f"B {'disabled' if disabled else 'NOT disabled'} ({state['endpoints'][b]['reason'] or 'no reason'}; "
            f"failures in a row {state['endpoints'][b]['failures']}), {state['endpoints'][b]['pending']} deliveries "
            f"waiting")
        before_enable = django_side(backend, "webhook_state", {**payload, "full": True})

        receiver.failing.discard("/b")
        times["enable"] = time.time()
        reply = call(server.url, "PATCH", f"/api/webhooks/{endpoint_ids['B']}", token=staff_token,
                     body={"enabled": True})
        backlog_sent, state, backlog_in = _wait(
            backend, payload, lambda s: s["endpoints"][b]["enabled"] and s["endpoints"][b]["pending"] == 0,
            BACKLOG_SECONDS)
        say(f"/b fixed and B enabled again (PATCH: HTTP {reply.status}): {'its backlog sent' if backlog_sent else 'its backlog NOT sent'} in "
            f"{backlog_in:.1f} s")
    finally:
        cluster.stop()
        server.stop()
        receiver.down()

    audit = django_side(backend, "webhook_state", {**payload, "full": True})
    arrivals = list(receiver.arrivals)
    a_id, b_id = endpoint_ids["A"], endpoint_ids["B"]
    published = audit["events"]
    event_at = {event_id: at for event_id, _, _, at in published}

    # A
    outcome.check(len(ids) == n, f"every order placed ({len(ids)}/{n})")
    outcome.check(drained, f"every order terminal and A's outbox empty within {DRAIN_SECONDS} s of the receiver "
                           f"coming back ({dict(Counter(audit['states'].values()))})")
    bad = [arrival for arrival in arrivals if not arrival.verified]
    outcome.check(arrivals and not bad, f"every delivery's signature verified with its endpoint's secret "
                                        f"({len(arrivals)} arrivals, {len(bad)} not)")
    a_seen = _delivered_in_order("A", "/a", a_id, audit, arrivals, outcome)
    a_attempts = [attempt for attempt in audit["attempts"] if attempt["endpoint"] == a_id]
    answered_500 = sum(1 for attempt in a_attempts if attempt["status"] == 500)
    unreached = sum(1 for attempt in a_attempts if attempt["status"] is None and not attempt["ok"])
    run_length = longest = 0
    for attempt in a_attempts:
        run_length = 0 if attempt["ok"] else run_length + 1
        longest = max(longest, run_length)
    outcome.check(answered_500 > 0 and unreached > 0,
                  f"A failed attempts during the outage: {answered_500} answered 500, {unreached} not connected")
    outcome.check(audit["endpoints"][str(a_id)]["enabled"] and longest < disable_after,
                  f"A was never disabled (longest run of failed attempts {longest}, limit {disable_after})")
    first_ok: dict[str, float] = {}
    for arrival in sorted(a_seen["answered"], key=lambda x: x.seq):
        first_ok.setdefault(arrival.message_id, arrival.at)
    delays = [first_ok[msg] - event_at[row["event"]] for msg, row in a_seen["by_message"].items()
              if msg in first_ok and row["event"] in event_at]
    outage_rows = [msg for msg, row in a_seen["by_message"].items()
                   if row["event"] in event_at and times["fail"] <= event_at[row["event"]] <= times["up"]]
    last_ok = max(first_ok.values(), default=times["up"])
    a_deliveries = len(a_seen["rows"])
    # B
    b_attempts = [attempt for attempt in before_enable["attempts"] if attempt["endpoint"] == b_id]
    b_state = before_enable["endpoints"][str(b_id)]
    outcome.check(disabled and not b_state["enabled"] and b_state["failures"] >= disable_after,
                  f"B disabled after {b_state['failures']} failed attempts in a row (limit {disable_after}; "
                  f"{b_state['reason']!r})")
    b_url = f"{receiver.url}/b"
    notices = [m for m in _mails(mail_dir) if " ".join(str(m["Subject"] or "").split()) == DISABLED_SUBJECT + b_url]
    outcome.check(any(STAFF_EMAIL in str(m["To"]) for m in notices),
                  f"staff told: {len(notices)} e-mail(s) {DISABLED_SUBJECT + b_url!r} to "
                  f"{', '.join(str(m['To']) for m in notices) or 'nobody'}")
    outcome.check(backlog_sent, f"B, its receiver fixed and enabled again, sent its backlog within "
                                f"{BACKLOG_SECONDS} s ({backlog_in:.1f} s)")
    b_seen = _delivered_in_order("B (its backlog)", "/b", b_id, audit, arrivals, outcome)

    say(f"orders {len(ids)}; events published {len(published)}; A: delivered {a_deliveries}, attempts "
        f"{len(a_attempts)}, retries {len(a_attempts) - a_deliveries} ({answered_500} answered 500, {unreached} "
        f"not connected; longest run of failures {longest}); {len(outage_rows)} events during the outage")
    say(f"event → first 2xx at A: median {seconds_text(percentile(delays, 50))}, p95 {seconds_text(percentile(delays, 95))}, max "
        f"{seconds_text(max(delays, default=None))} ({len(delays)} events)")
    say(f"drain: the last of A's events arrived {last_ok - times['up']:.1f} s after the receiver came back; every "
        f"order terminal and A's outbox empty {times['drained'] - times['up']:.1f} s after it")
    say(f"B: disabled at {disable_after} failures in a row ({b_state['failures']} counted with the attempts under "
        f"way then; {len(b_attempts)} attempts, {sum(a['ok'] for a in b_attempts)} answered 2xx), {len(notices)} "
        f"e-mail to staff; enabled again, its {len(b_seen['rows'])} deliveries sent in "
        f"{backlog_in:.1f} s ({len(b_seen['answered'])} answered 2xx)")
    outcome.facts = {
        "orders": len(ids), "events": len(published), "a_delivered": a_deliveries, "a_attempts": len(a_attempts),
        "a_retries": len(a_attempts) - a_deliveries, "a_500": answered_500, "a_unreached": unreached,
        "a_longest_failures": longest,
        "delay_s": {"p50": percentile(delays, 50), "p95": percentile(delays, 95), "max": max(delays, default=None)},
        "drain_s": last_ok - times["up"], "b_failures": b_state["failures"], "b_attempts": len(b_attempts),
        "b_backlog": len(b_seen["rows"]), "b_backlog_s": backlog_in, "notices": len(notices),
    }
    return outcome
