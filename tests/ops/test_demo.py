"""The demo as documented: `make run` (the Procfile through honcho) on any port.

A 3-D Secure charge (card 3220) is settled by the worker's simulated provider calling the web
back, so the order reaching "delivered" proves the worker knows the web's address; both
/metrics answer on the ports the docs name (the web's PORT, the worker's PORT+1); and two
demos on two ports run side by side.
"""
import json
import random
import socket
import subprocess
import urllib.request
import uuid

import pytest

from tests.conftest import BASE_DIR, wait_for
from tests.ops.conftest import MakeRun, clean_env, http_get, samples, value
from tests.payment_events import CARD_PENDING

pytestmark = pytest.mark.worker

SHIPPING = {"address": "1 Market Street", "city": "Springfield", "state": "IL", "zip": "62701"}
TERMINAL = ("delivered", "failed", "refunded", "cancelled")


def demo_ports(count: int) -> list[int]:
    """`count` ports, each free with its next port (the worker's metrics) and apart from the others.

    They come from below the kernel's ephemeral range (net.ipv4.ip_local_port_range starts at
    32768), where no outgoing connection of another test takes one while `make run` starts."""
    rng = random.Random()
    ports: list[int] = []
    while len(ports) < count:
        port = rng.randrange(20000, 32766)
        taken = {p + offset for p in ports for offset in (-1, 0, 1)}
        if port not in taken and port + 1 not in taken and bindable(port) and bindable(port + 1):
            ports.append(port)
    return ports


def bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def demo_env(data_dir, port: int) -> dict[str, str]:
    """A shell's environment plus the simulator's deterministic outcomes (every check passes, no
    waits, the 3-D Secure callback at once): nothing about ports but PORT itself."""
    return clean_env(data_dir, PORT=port, HOST="127.0.0.1", SIM_LATENCY_SCALE=0,
                     SIM_INVENTORY_AVAILABLE_RATE=1, SIM_SHIPPING_SUCCESS_RATE=1, SIM_PAYMENT_CONFIRM_DELAY=0)


def start_demo(tmp_path, name: str, port: int) -> MakeRun:
    run = MakeRun(demo_env(tmp_path / name, port), tmp_path / f"{name}.log")
    run.start()

    def serving():
        assert run.process.poll() is None, run.output()[-3000:]
        try:
            return (http_get(f"http://127.0.0.1:{port}/livez", timeout=1)[0] == 200
                    and http_get(f"http://127.0.0.1:{port + 1}/metrics", timeout=1)[0] == 200)
        except OSError:
            return False

    wait_for(serving, timeout=180, interval=0.5, message=f"make run on port {port} to serve the web and worker")
    return run


def api(base: str, method: str, path: str, body: dict | None = None, **headers) -> tuple[int, dict]:
    request = urllib.request.Request(f"{base}{path}", method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def pending_order_delivered(base: str, run: MakeRun) -> dict:
    """Register, order one item with the 3-D Secure card, and wait for the order to settle."""
    status, account = api(base, "POST", "/api/auth/register", {
        "email": f"demo-{uuid.uuid4().hex[:8]}@example.com", "password": "Sturdy-Passw0rd!", "name": "Demo"})
    assert status == 201, account
    auth = {"Authorization": f"Bearer {account['token']}"}
    status, order = api(base, "POST", "/api/orders", {
        "items": [{"productId": "prod-001", "quantity": 1}], "shipping": SHIPPING,
        "payment": {"card": CARD_PENDING.replace(" ", "")},
    }, **auth, **{"Idempotency-Key": uuid.uuid4().hex})
    assert status == 201, order

    def settled():
        status, current = api(base, "GET", f"/api/orders/{order['id']}", **auth)
        assert status == 200, current
        return current if current["state"] in TERMINAL else None

    return wait_for(settled, timeout=120, interval=0.5,
                    message=f"order {order['id']} to settle:\n{run.output()[-4000:]}")


def test_make_run_delivers_a_3d_secure_order_and_serves_both_metrics_on_its_ports(tmp_path):
    (port,) = demo_ports(1)
    base = f"http://127.0.0.1:{port}"
    run = start_demo(tmp_path, "demo", port)
    try:
        order = pending_order_delivered(base, run)
        assert order["state"] == "delivered", run.output()[-4000:]

        status, _, web = http_get(f"{base}/metrics")
        assert status == 200
        assert value(samples(web), "store_orders_created_total") == 1
        # The webhook the worker called was served by the web process.
        assert any(name == "django_http_responses_total_by_status_view_method_total"
                   and "webhook" in dict(labels).get("view", "") and dict(labels).get("status") == "200"
                   for name, labels in samples(web)), [k for k in samples(web) if "view" in dict(k[1])]
        status, _, worker = http_get(f"http://127.0.0.1:{port + 1}/metrics")
        assert status == 200
        worker_samples = samples(worker)
        # The web applied the approval the worker posted; the worker ran the rest of the pipeline.
        assert value(samples(web), "store_order_transitions_total", transition="payment_approved") == 1
        assert value(worker_samples, "store_order_transitions_total", transition="deliver_order") == 1
    finally:
        run.stop()
    assert "not delivered to" not in run.output()
    assert "not for the internet" not in run.output()  # loopback: no warning


def test_two_demos_run_side_by_side_on_two_ports(tmp_path):
    first_port, second_port = demo_ports(2)
    first = start_demo(tmp_path, "first", first_port)
    try:
        second = start_demo(tmp_path, "second", second_port)
        try:
            for port, run in ((first_port, first), (second_port, second)):
                assert run.process.poll() is None, run.output()[-3000:]
                assert http_get(f"http://127.0.0.1:{port}/livez")[0] == 200
                assert http_get(f"http://127.0.0.1:{port + 1}/metrics")[0] == 200
            order = pending_order_delivered(f"http://127.0.0.1:{second_port}", second)
            assert order["state"] == "delivered", second.output()[-4000:]
        finally:
            second.stop()
    finally:
        first.stop()


def test_make_run_on_a_wildcard_host_says_the_demo_is_not_for_the_internet(tmp_path):
    """Said before anything listens: with a PORT honcho refuses, nothing starts at all."""
    env = clean_env(tmp_path / "data", HOST="0.0.0.0", PORT="no-port")
    result = subprocess.run(["make", "--no-print-directory", "run"], cwd=BASE_DIR, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode != 0
    assert "HOST=0.0.0.0 listens beyond this machine. The demo is not for the internet" in result.stderr
    assert "gunicorn must never face clients itself" in result.stderr
    assert "docs/operations.md" in result.stderr
