"""Redis down: the shop keeps serving. Rate limits fail open with one warning, signing in works,
and a committed order is answered as a success (its pipeline run waits in the outbox, logged
once, until the worker's relay queues it)."""
import json
import time

import pytest

from orders.models import Order
from tests.conftest import PASSWORD, SHIPPING
from tests.ops.conftest import PRODUCTION_RATE_LIMITS, http_get, json_log_lines, process_env, wait_for
from tests.ops.test_rate_limits import Visitor
from workflows.models import OutboxTask

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def post_json(base: str, path: str, body: dict, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    status, _, text = Visitor().request(f"{base}{path}", data=json.dumps(body).encode(), headers=headers)
    return status, json.loads(text) if text else {}


@pytest.mark.worker
def test_without_redis_the_shop_serves_signs_in_and_answers_a_committed_order_as_placed(
    transactional_db, web_servers, catalog, make_user, tmp_path, relaying_qcluster
):
    customer = make_user("outage@example.com")
    # The web process queues the pipeline on the (unreachable) Redis broker, as in production.
    env = process_env(DATA_DIR=tmp_path, REDIS_URL=UNREACHABLE_REDIS, LOG_LEVEL="INFO", PIPELINE_TASKS_SYNC="0",
                      **{f"RATE_LIMIT_{name}": rate for name, rate in PRODUCTION_RATE_LIMITS.items()})
    server = web_servers(env)

    started = time.monotonic()
    catalog_status = http_get(f"{server.url}/api/products")[0]
    login_status, login = post_json(server.url, "/api/auth/login", {"email": customer.email, "password": PASSWORD})
    order_status, order = post_json(server.url, "/api/orders", {
        "items": [{"productId": "prod-002", "quantity": 1}], "shipping": SHIPPING,
    }, token=login.get("token"))
    elapsed = time.monotonic() - started

    assert (catalog_status, login_status, order_status) == (200, 200, 201), order
    assert Order.objects.filter(owner=customer).count() == 1
    assert order["id"] == Order.objects.get(owner=customer).pk
    assert http_get(f"{server.url}/livez", timeout=2)[0] == 200
    assert elapsed < 15  # each Redis call gives up within REDIS_TIMEOUT, not a client's patience
    lines = json_log_lines(server.output())
    outages = [line for line in lines if line.get("logger") == "store.throttling"]
    assert len(outages) == 1 and "cache unavailable" in outages[0]["message"]
    assert not [line for line in lines if line.get("status_code") == 500]
    refused = [line for line in lines if line.get("logger") == "workflows.outbox"]
    assert len(refused) == 1 and refused[0]["message"].startswith(f"broker refused pipeline-order-{order['id']};")
    # The order's pipeline run waited in the outbox; the worker cluster's relay queues it within
    # about a second of its start (the sweeper would take STUCK_AFTER_SECONDS).
    placed = Order.objects.get(pk=order["id"])
    wait_for(lambda: Order.objects.get(pk=placed.pk).state == "delivered", timeout=60,
             message="the worker's outbox relay to run the deferred order")
    assert not OutboxTask.objects.exists()
