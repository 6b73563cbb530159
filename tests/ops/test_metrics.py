"""Prometheus metrics: the web's /metrics, a worker cluster's metrics port, multiprocess gunicorn."""
import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import Notification
from orders.models import Order, OrderState
from orders.services import order_transition
from orders.services.tracking import tracking_update_apply
from orders.states import TRANSITIONS
from providers.base import TrackingUpdate
from tests.conftest import CARD_APPROVE, SHIPPING
from tests.ops.conftest import (
    exported_names,
    http_get,
    process_env,
    samples,
    scrape_worker,
    settle,
    value,
)
from tests.order_states import path_to
from tests.workflow_versions import version_publish_with
from workflows.models import Hold
from workflows.pipeline import PIPELINE, Step

pytestmark = pytest.mark.django_db

# The pipeline's transitions from a placed order to a delivered one, as declared, and the steps
# (providers) it calls on the way.
DELIVERED_PATH = path_to("delivered")
DELIVERED_STEPS = [stage.step for state, stage in PIPELINE.items()
                   if isinstance(stage, Step) and state in {TRANSITIONS[name].target for name in DELIVERED_PATH}]


def scrape_web(client, **headers) -> str:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def place_through_api(customer_api, *, request_id: str | None = None) -> int:
    headers = {"HTTP_X_REQUEST_ID": request_id} if request_id else {}
    response = customer_api.post(
        "/api/orders",
        {"items": [{"productId": "prod-001", "quantity": 1}], "shipping": SHIPPING, "payment": {"card": CARD_APPROVE}},
        format="json",
        **headers,
    )
    assert response.status_code == 201, response.content
    if request_id:
        assert response["X-Request-ID"] == request_id
    return response.json()["id"]


# --- one order through a real worker ---------------------------------------------------------

@pytest.mark.worker
def test_an_order_through_a_worker_shows_in_web_and_worker_metrics(metrics_cluster, catalog, customer_api, client):
    web_before, worker_before = samples(scrape_web(client)), samples(scrape_worker(metrics_cluster))

    order_id = place_through_api(customer_api)
    order = settle(order_id, "delivered", "failed", "refunded", "cancelled")
    assert order.state == "delivered"

    web, worker = samples(scrape_web(client)), samples(scrape_worker(metrics_cluster))

    def web_delta(name, **labels):
        return value(web, name, **labels) - value(web_before, name, **labels)

    def worker_delta(name, **labels):
        return value(worker, name, **labels) - value(worker_before, name, **labels)

    # The web process placed the order and answered the API (django-prometheus).
    assert web_delta("store_orders_created_total") == 1
    assert web_delta("django_http_responses_total_by_status_view_method_total",
                     status="201", view="api-orders", method="POST") == 1
    assert value(web, "django_db_execute_total", alias="default", vendor=_vendor()) > 0
    # store_orders{state} is read from the database at scrape time, every state exported.
    for state, _label in Order._meta.get_field("state").choices:
        assert value(web, "store_orders", state=state) == Order.objects.filter(state=state).count()
    assert value(web, "store_orders", state="delivered") >= 1

    # The worker's task processes fired the transitions, ran the steps and called the providers.
    for transition in DELIVERED_PATH:
        assert worker_delta("store_order_transitions_total", transition=transition) == 1, transition
    for step in DELIVERED_STEPS:
        assert worker_delta("store_step_attempts_total", step=step, outcome="ok") == 1, step
        assert worker_delta("store_step_duration_seconds_count", step=step, outcome="ok") == 1, step
        assert worker_delta("store_step_duration_seconds_bucket", step=step, outcome="ok", le="+Inf") == 1
        assert worker_delta("store_step_attempts_total", step=step, outcome="failed") == 0
    for gateway in DELIVERED_STEPS:  # each simulator counts its calls under its step's name
        calls = 2 if gateway == "shipping" else 1  # the label, then the pipeline asks where the parcel is
        assert worker_delta("store_gateway_calls_total", gateway=gateway, result="ok") == calls, gateway
    notifications = Notification.objects.filter(order_id=order_id).count()
    assert notifications >= 3  # paid, shipped, delivered
    assert worker_delta("store_gateway_calls_total", gateway="notification", result="ok") == notifications
    # The transitions happened in the worker, not in the web process.
    assert web_delta("store_order_transitions_total", transition="payment_approved") == 0
    # A worker's port does not repeat the web's database gauge.
    assert not any(name == "store_orders" for name, _ in worker)


def _vendor() -> str:
    from django.db import connection

    return connection.vendor


@pytest.mark.worker
def test_declines_and_timeouts_are_counted_by_outcome(metrics_cluster, catalog, customer, place_order):
    before = samples(scrape_worker(metrics_cluster))

    order = place_order(customer, {"prod-003": 1}, card="4000 0000 0000 0002")
    assert settle(order.pk, "failed", "delivered", "refunded", "cancelled").state == "failed"
    timeout_order = place_order(customer, {"prod-005": 1}, card="4000 0000 0000 0119")
    assert settle(timeout_order.pk, "delivered", "failed", "refunded", "cancelled").state == "delivered"

    after = samples(scrape_worker(metrics_cluster))

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    # Declined three times (first try + 2 automatic retries), then abandoned.
    assert delta("store_step_attempts_total", step="payment", outcome="failed") == 3
    assert delta("store_gateway_calls_total", gateway="payment", result="failed") == 3
    assert delta("store_order_transitions_total", transition="payment_declined") == 3
    assert delta("store_order_transitions_total", transition="abandon_payment") == 1
    # Test card 0119 times out once, then is approved.
    assert delta("store_step_attempts_total", step="payment", outcome="timeout") == 1
    assert delta("store_gateway_calls_total", gateway="payment", result="timeout") == 1
    assert delta("store_step_duration_seconds_count", step="payment", outcome="timeout") == 1


# --- /metrics ----------------------------------------------------------------------------------

def test_metrics_needs_the_bearer_token_when_one_is_set(client, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"

    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic s3cret-scrape-token").status_code == 401

    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    assert response.status_code == 200
    assert "store_orders_created_total" in response.content.decode()


def test_metrics_is_open_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 200


def test_orders_by_state_is_one_group_by_query(client, django_assert_num_queries, customer, place_order):
    from workflows.metrics import orders_by_state

    place_order(customer)
    with django_assert_num_queries(1):
        families = list(orders_by_state.collect())
    series = {sample.labels["state"]: sample.value for sample in families[0].samples}
    assert set(series) == set(OrderState.values)  # every state, also the empty ones
    assert series["new"] == Order.objects.filter(state="new").count() >= 1


def test_orders_by_state_is_left_out_when_the_database_fails(client, monkeypatch):
    from django.db import OperationalError
    from django.db.models.query import QuerySet

    def broken(self):
        raise OperationalError("database is down")

    monkeypatch.setattr(QuerySet, "__iter__", broken)
    body = scrape_web(client)
    assert "store_orders_created_total" in body
    assert not re.search(r"^store_orders\{", body, re.M)
    assert not re.search(r"^store_order_state_oldest_seconds\{", body, re.M)


def test_the_oldest_order_in_each_state_shows_how_long_it_has_sat_there(client, customer, place_order):
    stuck = place_order(customer)  # in "new": the pipeline owes it its first step
    Order.objects.filter(pk=stuck.pk).update(updated_at=timezone.now() - timedelta(seconds=900))
    place_order(customer)  # a fresh one beside it: the oldest decides
    # A charge the bank has yet to confirm waits by design (its confirmation timeout): not overdue.
    pending = place_order(customer)
    Order.objects.filter(pk=pending.pk).update(state="paying", charge_pending_since=timezone.now(),
                                               updated_at=timezone.now() - timedelta(seconds=600))

    web = samples(scrape_web(client))

    oldest = {dict(labels)["state"]: (dict(labels)["group"], seconds) for (name, labels), seconds in web.items()
              if name == "store_order_state_oldest_seconds"}
    assert oldest["new"][0] == "working" and 900 <= oldest["new"][1] < 960
    assert oldest["paying"] == ("working", 0)  # empty, and exported all the same
    assert oldest["awaiting_approval"] == ("waiting", 0)
    assert "delivered" not in oldest and "refunded" not in oldest  # an order that ended does not wait


def test_holds_past_their_deadline_are_counted(client, order_in_state):
    order_in = order_in_state
    overdue, on_time = order_in("awaiting_approval"), order_in("awaiting_approval")
    Hold.objects.filter(order=overdue).update(deadline=timezone.now() - timedelta(minutes=1))
    decided = order_in("awaiting_approval")
    Hold.objects.filter(order=decided).update(deadline=timezone.now() - timedelta(minutes=1))
    order_transition(order_id=decided.pk, name="approve")

    web = samples(scrape_web(client))

    assert value(web, "store_holds_overdue") == 1
    assert Hold.objects.get(order=on_time).resolved_at is None


# --- multiprocess mode: gunicorn with several workers ------------------------------------------

@pytest.mark.worker
def test_gunicorn_workers_add_up_in_multiprocess_mode(transactional_db, catalog, web_servers, tmp_path):
    metrics_dir = tmp_path / "web-metrics"
    (metrics_dir).mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left over by an earlier run")
    server = web_servers(process_env(PROMETHEUS_MULTIPROC_DIR=metrics_dir, METRICS_TOKEN="scrape-me"), workers=3)
    # gunicorn.conf.py emptied the directory of the earlier run's files.
    assert not (metrics_dir / "counter_999999.db").exists()

    requests = 45
    for _ in range(requests):
        assert http_get(f"{server.url}/api/products")[0] == 200

    status, _, _ = http_get(f"{server.url}/metrics")
    assert status == 401
    # Whichever worker answers the scrape, it reports the sum of all of them.
    for _ in range(3):
        status, _, body = http_get(f"{server.url}/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert status == 200
        scrape = samples(body)
        assert value(scrape, "django_http_responses_total_by_status_view_method_total",
                     status="200", view="api-product-list", method="GET") == requests
        assert value(scrape, "store_orders", state="new") == 0
    assert len({path.name.rsplit("_", 1)[-1] for path in metrics_dir.glob("counter_*.db")}) >= 1


def test_worker_metrics_port_needs_the_multiprocess_dir(transactional_db, tmp_path):
    import subprocess
    import sys

    from tests.conftest import BASE_DIR

    env = process_env(WORKER_METRICS_PORT="1", Q_CLUSTER_NAME="opsnodir")
    result = subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), "qcluster", "--run-once"], cwd=BASE_DIR,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "WORKER_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR" in result.stderr


# --- the Grafana dashboard asks only for what the store exports --------------------------------

DASHBOARD = "observability/grafana/dashboards/store.json"


@pytest.mark.worker
def test_every_dashboard_query_names_an_exported_metric(metrics_cluster, client):
    from tests.conftest import BASE_DIR

    dashboard = json.loads((BASE_DIR / DASHBOARD).read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert len(exprs) >= 8
    names = {name for expr in exprs for name in re.findall(r"\b((?:store|django)_[a-z0-9_]+)", expr)}
    exported = exported_names(scrape_web(client)) | exported_names(scrape_worker(metrics_cluster))

    assert names, "the dashboard queries no store or django metric"
    assert sorted(names - exported) == []
    for wanted in ("store_orders_created_total", "store_orders", "store_step_duration_seconds_bucket",
                   "store_step_attempts_total", "django_http_requests_latency_seconds_by_view_method_bucket"):
        assert wanted in names, wanted


def test_a_shipped_order_is_overdue_only_after_its_wait_for_the_carrier(client, customer, place_order, settings):
    settings.PIPELINE = {**settings.PIPELINE, "TRACKING_WAIT_SCALE": 1}
    version_publish_with({"tracking.timeoutSeconds": 1800, "tracking.askMaxSeconds": 1800})
    shipped = place_order(customer)
    Order.objects.filter(pk=shipped.pk).update(state="shipped", updated_at=timezone.now() - timedelta(seconds=3900))

    # A parcel the carrier could not deliver is in Needs attention: older, it still pages nobody.
    problem = place_order(customer)
    Order.objects.filter(pk=problem.pk).update(state="shipped", tracking_number="1ZPROBLEM")
    tracking_update_apply(order_id=problem.pk, tracking_number="1ZPROBLEM", via="webhook",
                          update=TrackingUpdate("trk_metrics_problem", "exception", 1, "Address not found"))
    Order.objects.filter(pk=problem.pk).update(updated_at=timezone.now() - timedelta(days=3))

    web = samples(scrape_web(client))

    assert 300 <= value(web, "store_order_state_oldest_seconds", state="shipped", group="working") < 360
