"""End to end: the simulated carrier's own HTTP callbacks move shipped orders on.

A real django-q2 cluster runs the pipeline and the carrier's callback tasks, which POST each
signed tracking update over HTTP to the store's webhook served by `live_server`. The store is
told to wait an hour before asking the carrier, so what moves the orders is the webhook."""
import os
import time
import uuid

import pytest
from django.conf import settings as django_settings
from django.test import Client

from orders.models import Order, TrackingEvent
from orders.states import TERMINAL_STATES, WORKING_STATES
from tests.conftest import QCluster, _database_url_of_test_db, wait_for
from tests.tracking_events import RETURN_TO_SENDER_ZIP, tracking_shown

pytestmark = pytest.mark.worker


@pytest.fixture
def carrier_cluster(live_server, django_db_blocker, transactional_db, settings, monkeypatch):
    """A `qcluster` (as the `qcluster` fixture's) whose carrier calls back to `live_server`."""
    from django_q.conf import Conf

    with django_db_blocker.unblock():
        database_url = _database_url_of_test_db()
    name = f"trk{uuid.uuid4().hex[:8]}"
    cluster = QCluster({
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "store.settings_test",
        "DATABASE_URL": database_url,
        "DATA_DIR": str(django_settings.DATA_DIR),
        "Q_CLUSTER_NAME": name,
        "Q_WORKERS": "2",
        "TRACKING_WEBHOOK_URL": f"{live_server.url}/api/shipping/webhook",
        "SIM_TRACKING_CALLBACKS": "1",
        "TRACKING_WAIT_SCALE": "1",  # the default version's hour of silence before asking
    })
    monkeypatch.setattr(Conf, "PREFIX", name)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    monkeypatch.setattr(Conf, "Q_STAT", f"django_q:{name}:cluster")
    settings.PIPELINE_TASKS_SYNC = False  # the webhook (served in this process) queues the pipeline's run too
    settings.PIPELINE = {**settings.PIPELINE, "TRACKING_WAIT_SCALE": 1}
    cluster.start()
    try:
        yield cluster
        deadline = time.monotonic() + 10
        while Order.objects.filter(state__in=WORKING_STATES - {"shipped"}).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        cluster.stop()


def test_the_carriers_callbacks_over_http_deliver_one_order_and_return_another(carrier_cluster, customer,
                                                                               place_order):
    delivered = place_order(customer, {"prod-001": 1})
    returned = place_order(customer, {"prod-002": 1}, zip=RETURN_TO_SENDER_ZIP)

    def ended(order_id):
        return lambda: Order.objects.filter(pk=order_id, state__in=TERMINAL_STATES).first()

    output = lambda: carrier_cluster.output()[-3000:]  # noqa: E731
    # An update that overtakes the label is refused (409) and resent through a django-q2
    # schedule, which the cluster looks at every 30 s: a resend may take two of its rounds.
    delivered = wait_for(ended(delivered.pk), timeout=150, message=f"order {delivered.pk} to end:\n{output()}")
    returned = wait_for(ended(returned.pk), timeout=150, message=f"order {returned.pk} to end:\n{output()}")

    assert delivered.state == "delivered", output()
    assert list(TrackingEvent.objects.filter(order=delivered).values_list("status", "via", "outcome")) == [
        ("in_transit", "webhook", "applied"), ("out_for_delivery", "webhook", "applied"),
        ("delivered", "webhook", "applied")]
    assert returned.state == "returned", output()
    assert returned.refunded_amount == returned.total
    assert set(TrackingEvent.objects.filter(order=returned).values_list("via", flat=True)) == {"webhook"}
    client = Client()
    client.force_login(customer)
    assert tracking_shown(client, delivered) == ["In transit", "Out for delivery", "Delivered"]
    assert tracking_shown(client, returned) == ["In transit", "Delivery problem", "Returned to the shop"]
