"""What one order costs the database: its placement through the API and its whole pipeline run.

The counts are pinned: a change that adds a statement fails here, one that saves some updates
the pin. Placement runs as a request; its pipeline runs as a worker runs it, from the task
placement queued, after placement committed (the broker keeps the task; the test runs it).
A first order warms the shop as a running one is: the circuits' rows exist and the workflow
version, the circuits and the simulated outages are read from the process' caches, which the
test keeps for the hour. The task queue's own statements (django-q2's ORM broker on SQLite
without Redis) are not counted: they are the broker's, and which broker runs varies by layout."""
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import Notification
from orders.models import Order
from tests.conftest import SHIPPING
from workflows.tasks import pipeline_run

# (placement, pipeline) per backend (SQLite's BEGIN and COMMIT are statements).
PINNED = {"sqlite": (23, 98), "postgresql": (23, 98)}


def _store_statements(captured) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if "django_q_" not in query["sql"]]


def _listing(statements: list[str]) -> str:
    return "\n".join(f"{n:3d} {sql[:240]}" for n, sql in enumerate(statements, 1))


def _order_placed_and_run(client):
    body = {"items": [{"productId": "prod-001", "quantity": 2}], "shipping": dict(SHIPPING),
            "payment": {"card": "4242 4242 4242 4242"}}
    with CaptureQueriesContext(connection) as placing:
        response = client.post("/api/orders", body, format="json")
    assert response.status_code == 201, response.json()
    order_id = response.json()["id"]
    with CaptureQueriesContext(connection) as running:
        pipeline_run(order_id)
    return Order.objects.get(pk=order_id), placing, running


def test_one_order_costs_a_pinned_number_of_queries(transactional_db, settings, monkeypatch, outages_forgotten,
                                                    catalog, customer_api):
    from providers import simulation

    monkeypatch.setattr(simulation, "OUTAGE_REFRESH_SECONDS", 3600)
    settings.PIPELINE_TASKS_SYNC = False  # queued to the broker, run below as a worker would
    settings.WORKFLOW_READ_CACHE_SECONDS = 3600
    settings.PROVIDER_CIRCUIT = {**settings.PROVIDER_CIRCUIT, "READ_CACHE_SECONDS": 3600}
    _order_placed_and_run(customer_api)

    order, placing, running = _order_placed_and_run(customer_api)

    assert order.state == "delivered"
    assert sorted(Notification.objects.filter(order=order).values_list("event_type", flat=True)) == [
        "order.created", "order.delivered", "order.paid", "order.shipped"]
    placement, pipeline = PINNED[connection.vendor]
    placed, ran = _store_statements(placing), _store_statements(running)
    assert len(placed) == placement, _listing(placed)
    assert len(ran) == pipeline, _listing(ran)
