"""Request ids and JSON log lines: on every response, in the web's lines, in the worker's lines."""
import json
import logging

import pytest

from store.logging import JsonFormatter, RequestContextFilter
from tests.conftest import CARD_APPROVE, SHIPPING, wait_for
from tests.ops.conftest import json_log_lines, settle
from tests.order_states import path_to

pytestmark = pytest.mark.django_db


class JsonLines(logging.Handler):
    """Collects the JSON lines the settings' console handler would print."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.addFilter(RequestContextFilter())
        self.setFormatter(JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def json_lines():
    handler = JsonLines()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)


def worker_lines(cluster) -> list[dict]:
    return json_log_lines(cluster.output())


@pytest.mark.worker
def test_the_request_id_comes_back_and_travels_into_the_workers_transition_lines(
    metrics_cluster, catalog, customer_api
):
    response = customer_api.post(
        "/api/orders",
        {"items": [{"productId": "prod-002", "quantity": 1}], "shipping": SHIPPING, "payment": {"card": CARD_APPROVE}},
        format="json",
        HTTP_X_REQUEST_ID="abc-123",
    )
    assert response.status_code == 201
    assert response["X-Request-ID"] == "abc-123"
    order_id = response.json()["id"]
    assert settle(order_id, "delivered", "failed", "refunded", "cancelled").state == "delivered"

    # One JSON line per transition, written by the worker's task processes once each commits: the
    # last may reach the pipe just after the order is seen delivered.
    def transition_lines() -> list[dict]:
        return [line for line in worker_lines(metrics_cluster)
                if line.get("logger") == "orders.transitions" and line.get("order_id") == order_id]

    wait_for(lambda: len(transition_lines()) >= len(path_to("delivered")), timeout=30,
             message="the worker's line of every transition")
    lines = transition_lines()
    assert [line["transition"] for line in lines] == path_to("delivered")
    for line in lines:
        assert line["request_id"] == "abc-123"
        assert line["level"] == "INFO"
        assert line["time"].endswith("+00:00")
        assert {"source", "target"} <= line.keys()
    # The timeline rows keep it too.
    from orders.models import OrderEvent

    assert set(OrderEvent.objects.filter(order_id=order_id).values_list("request_id", flat=True)) == {"abc-123"}


def test_a_jwt_requests_lines_name_the_request_and_the_user(json_lines, customer_api, customer, place_order):
    order = place_order(customer)

    response = customer_api.post(f"/api/orders/{order.pk}/cancel", HTTP_X_REQUEST_ID="cancel-42")

    assert response.status_code == 200
    (line,) = [line for line in json_lines if line["logger"] == "orders.transitions"]
    assert line["transition"] == "cancel"
    assert line["request_id"] == "cancel-42"
    assert line["user_id"] == customer.pk
    assert line["order_id"] == order.pk
    assert {"time", "level", "message"} <= line.keys()


def test_djangos_own_4xx_lines_carry_the_request_id_and_user_too(json_lines, customer_api, customer):
    response = customer_api.get("/api/orders/987654", HTTP_X_REQUEST_ID="missing-1")

    assert response.status_code == 404
    (line,) = [line for line in json_lines if line["logger"] == "django.request"]
    assert line["level"] == "WARNING"
    assert line["request_id"] == "missing-1"
    assert line["user_id"] == customer.pk
    assert line["status_code"] == 404


def test_a_session_users_lines_name_the_user(json_lines, client, customer):
    client.force_login(customer)

    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="page-7")

    assert response.status_code == 404
    (line,) = [line for line in json_lines if line["logger"] == "django.request"]
    assert line["request_id"] == "page-7"
    assert line["user_id"] == customer.pk


def test_anonymous_lines_have_no_user(json_lines, client):
    client.get("/no-such-page/", HTTP_X_REQUEST_ID="anon-1")
    (line,) = [line for line in json_lines if line["logger"] == "django.request"]
    assert line["request_id"] == "anon-1"
    assert "user_id" not in line


def test_every_response_has_a_request_id(client, customer_api):
    for response in (client.get("/livez"), client.get("/"), client.get("/api/products"), client.get("/metrics"),
                     client.post("/api/auth/login", {}, content_type="application/json"),
                     customer_api.get("/api/orders")):
        assert response["X-Request-ID"]


def test_a_later_run_of_the_pipeline_keeps_the_request_id(customer, place_order):
    """A delivery delay schedules the next run; it carries the id of the request that started the work."""
    from datetime import timedelta

    from django.utils import timezone
    from django_q.models import Schedule

    from store.request_context import request_id_var
    from workflows.queueing import pipeline_schedule

    order = place_order(customer)
    token = request_id_var.set("later-9")
    try:
        pipeline_schedule(order_id=order.pk, at=timezone.now() + timedelta(minutes=5))
    finally:
        request_id_var.reset(token)

    scheduled = Schedule.objects.get(name__startswith=f"pipeline-order-{order.pk}-at-")
    assert "later-9" in scheduled.kwargs


def test_a_pipeline_tasks_lines_name_its_order_and_request(json_lines, sync_pipeline, customer, place_order):
    from store.request_context import request_id_var

    token = request_id_var.set("sync-5")
    try:
        order = place_order(customer)
    finally:
        request_id_var.reset(token)

    lines = [line for line in json_lines if line.get("order_id") == order.pk]
    assert {line["transition"] for line in lines if line["logger"] == "orders.transitions"} >= set(path_to("delivered"))
    assert {line["request_id"] for line in lines} == {"sync-5"}


def test_a_one_off_pipeline_run_leaves_no_schedule_behind(customer, place_order, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone
    from django_q.brokers import get_broker
    from django_q.conf import Conf
    from django_q.models import Schedule
    from django_q.scheduler import scheduler

    from workflows.queueing import pipeline_schedule

    order = place_order(customer)
    pipeline_schedule(order_id=order.pk, at=timezone.now() - timedelta(seconds=1))
    monkeypatch.setattr(Conf, "SYNC", True)  # the scheduler's task runs here, not on a queue

    scheduler(broker=get_broker())

    assert not Schedule.objects.filter(name__startswith=f"pipeline-order-{order.pk}-at-").exists()
