"""End to end: a pending payment settled by the simulator's own HTTP callback.

A real django-q2 cluster runs the pipeline and the simulator's callback task, which POSTs the
signed event over HTTP to the store's webhook served by `live_server`. The session's `qcluster`
never calls back (the test settings turn callbacks off), so this test starts a cluster of its
own that knows the live server's address.
"""
import os
import time
import uuid

import pytest
from django.conf import settings as django_settings

from orders.models import Order, PaymentWebhookEvent
from orders.services.payment_pending import PAYMENT_PENDING_EVENT
from orders.states import WORKING_STATES
from providers.models import GatewayCall
from tests.conftest import QCluster, _database_url_of_test_db, wait_for
from tests.order_states import path_to
from tests.payment_events import CARD_PENDING
from tests.workflow_versions import version_publish_with

pytestmark = pytest.mark.worker


@pytest.fixture
def callback_cluster(live_server, django_db_blocker, transactional_db, settings, monkeypatch):
    """A `qcluster` (as the `qcluster` fixture's) whose simulator calls back to `live_server` at once."""
    from django_q.conf import Conf

    with django_db_blocker.unblock():
        database_url = _database_url_of_test_db()
    name = f"hook{uuid.uuid4().hex[:8]}"
    cluster = QCluster({
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "store.settings_test",
        "DATABASE_URL": database_url,
        "DATA_DIR": str(django_settings.DATA_DIR),
        "Q_CLUSTER_NAME": name,
        "Q_WORKERS": "2",
        "PAYMENT_WEBHOOK_URL": f"{live_server.url}/api/payments/webhook",
        "SIM_PAYMENT_CONFIRM_DELAY": "0",
    })
    monkeypatch.setattr(Conf, "PREFIX", name)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    monkeypatch.setattr(Conf, "Q_STAT", f"django_q:{name}:cluster")
    settings.PIPELINE_TASKS_SYNC = False  # the webhook (served in this process) queues the pipeline's run too
    cluster.start()
    try:
        yield cluster
        deadline = time.monotonic() + 10
        while Order.objects.filter(state__in=WORKING_STATES).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        cluster.stop()


def test_the_simulators_callback_over_http_moves_a_pending_order_to_delivered(callback_cluster, customer, place_order):
    order = place_order(customer, {"prod-001": 1}, card=CARD_PENDING)

    def settled():
        current = Order.objects.get(pk=order.pk)
        return current if current.state in ("delivered", "failed", "refunded", "cancelled") else None

    order = wait_for(settled, timeout=60, message=f"order {order.pk} to settle:\n{callback_cluster.output()[-3000:]}")
    assert order.state == "delivered", callback_cluster.output()[-3000:]
    charge = GatewayCall.objects.get(order_id=order.pk, gateway="payment", operation="charge")
    assert charge.outcome == "pending"  # charged once: the callback approved the pending charge
    assert order.transaction_id == charge.result["reference"]
    assert order.events.filter(event_type=PAYMENT_PENDING_EVENT).count() <= 1  # the callback may beat the record
    applied = PaymentWebhookEvent.objects.get(order=order)
    assert (applied.event_type, applied.outcome, applied.transition) == ("payment.approved", "applied",
                                                                          "payment_approved")
    transitions = list(order.events.exclude(transition="").values_list("transition", flat=True))
    on_from_paying = path_to("delivered", start="paying")  # payment_approved, then on to delivery
    assert transitions[-len(on_from_paying):] == on_from_paying


def test_callbacks_refused_as_stale_are_made_up_for_by_reconciliation(callback_cluster, customer, place_order,
                                                                     settings):
    from workflows.tasks import payments_reconcile

    # Every signature is too old for this store (as with its clock far ahead of the provider's).
    settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS = -1
    version_publish_with({"payment.reconcileAfterSeconds": 0})
    order = place_order(customer, {"prod-001": 1}, card=CARD_PENDING)
    refused = wait_for(lambda: PaymentWebhookEvent.objects.filter(order=order, outcome="refused").first(),
                       timeout=60, message=f"the callback of order {order.pk}:\n{callback_cluster.output()[-3000:]}")
    assert Order.objects.get(pk=order.pk).state == "paying"

    assert payments_reconcile() == 1  # the schedule's run; the pipeline goes on in the cluster

    def settled():
        current = Order.objects.get(pk=order.pk)
        return current if current.state in ("delivered", "failed", "refunded", "cancelled") else None

    order = wait_for(settled, timeout=60, message=f"order {order.pk} to settle:\n{callback_cluster.output()[-3000:]}")
    charge = GatewayCall.objects.get(order_id=order.pk, gateway="payment", operation="charge")
    assert order.state == "delivered" and order.transaction_id == charge.result["reference"]
    assert order.events.get(transition="payment_approved").detail["reconciled"] == charge.idempotency_key
    assert refused.note.startswith("The signature's timestamp is")
    assert not GatewayCall.objects.filter(order_id=order.pk, operation="refund").exists()
