"""What one order costs the database: its placement through the API and its whole pipeline run.

The counts are pinned: a change that adds a statement fails here, one that saves some updates
the pin. Placement runs as a request; its pipeline runs as a worker runs it, from the task
placement queued, after placement committed (the broker keeps the task; the test runs it).
A first order warms the shop as a running one is: the circuits' rows exist and the workflow
version and circuits are read from the process' caches, which the test keeps for the hour."""
from django.db import connection
from django.test.utils import CaptureQueriesContext

from notifications.models import Notification
from orders.models import Order
from tests.conftest import SHIPPING
from workflows.tasks import pipeline_run

# (placement, pipeline) per backend; PostgreSQL's statements differ a little (its queue is Redis
# when REDIS_URL is set, SQLite's the database; SQLite's BEGIN and COMMIT are statements).
PINNED = {"sqlite": (25, 120), "postgresql": (24, 120)}


def _listing(captured) -> str:
    return "\n".join(f"{n:3d} {q['sql'][:240]}" for n, q in enumerate(captured.captured_queries, 1))


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


def test_one_order_costs_a_pinned_number_of_queries(transactional_db, settings, catalog, customer_api):
    settings.PIPELINE_TASKS_SYNC = False  # queued to the broker, run below as a worker would
    settings.WORKFLOW_READ_CACHE_SECONDS = 3600
    settings.PROVIDER_CIRCUIT = {**settings.PROVIDER_CIRCUIT, "READ_CACHE_SECONDS": 3600}
    _order_placed_and_run(customer_api)

    order, placing, running = _order_placed_and_run(customer_api)

    assert order.state == "delivered"
    assert sorted(Notification.objects.filter(order=order).values_list("event_type", flat=True)) == [
        "order.created", "order.delivered", "order.paid", "order.shipped"]
    placement, pipeline = PINNED[connection.vendor]
    assert len(placing.captured_queries) == placement, _listing(placing)
    assert len(running.captured_queries) == pipeline, _listing(running)
