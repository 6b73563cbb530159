"""A real HTTP receiver on loopback that records what it gets and verifies the signatures."""
import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from webhooks import services


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    def signed_with(self, secret: str) -> bool:
        """As a receiver checks it: HMAC-SHA256 of "id.timestamp.body" with the decoded secret."""
        key = base64.b64decode(secret.removeprefix("whsec_"))
        signed = f"{self.headers['webhook-id']}.{self.headers['webhook-timestamp']}.".encode() + self.body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        return any(hmac.compare_digest(f"v1,{expected}", sig) for sig in self.headers["webhook-signature"].split())


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    # Statuses to answer, in turn, per path; then 200. A path starting /down answers 503 always.
    answers: dict[str, list[int]] = field(default_factory=dict)

    def of(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


@pytest.fixture
def receiver():
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["content-length"]))
            state.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            queued = state.answers.get(self.path) or []
            status = 503 if self.path.startswith("/down") else (queued.pop(0) if queued else 200)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def webhook_admin(make_user):
    return make_user("integrations@example.com", name="Ina Integrations", is_staff=True, is_superuser=True)


@pytest.fixture
def endpoint(webhook_admin, receiver):
    """endpoint(path="/hooks", events=["*"]) → a registered endpoint of the receiver."""

    def make(path: str = "/hooks", events: list[str] | None = None, **values):
        return services.endpoint_create(actor=webhook_admin, url=receiver.url + path, events=events or ["*"],
                                        **values)

    return make
