"""Webhooks in the admin: adding an endpoint (checked as the API checks it, its secret shown once),
the delivery log with its attempts, replay; and the metrics on /metrics."""
import pytest
from django.test import Client

from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def _web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_staff_add_an_endpoint_and_read_its_secret_once(webhook_admin, receiver):
    web = _web(webhook_admin)

    response = web.post("/admin/webhooks/webhookendpoint/add/",
                        {"url": receiver.url + "/hooks", "events": ["order.paid", "order.shipped"], "enabled": "on",
                         "description": "ERP"}, follow=True)

    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.events, endpoint.enabled) == (["order.paid", "order.shipped"], True)
    page = response.content.decode()
    assert endpoint.secret in page and "it is not shown again" in page
    assert endpoint.secret not in web.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/").content.decode()


def test_the_admin_refuses_what_the_api_refuses(webhook_admin, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False

    response = _web(webhook_admin).post("/admin/webhooks/webhookendpoint/add/",
                                        {"url": "http://localhost/hooks", "events": ["*"], "enabled": "on"})

    assert response.status_code == 200
    assert "which is not a public address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_delivery_log_shows_attempts_and_replays(webhook_admin, receiver, endpoint, place_order, customer):
    hooks = endpoint("/hooks", ["order.created"])
    receiver.answers["/hooks"] = [500]
    place_order(customer)
    services.deliveries_dispatch()
    delivery = WebhookDelivery.objects.get()
    web = _web(webhook_admin)

    listing = web.get(f"/admin/webhooks/webhookdelivery/?endpoint__id__exact={hooks.pk}").content.decode()
    page = web.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/").content.decode()
    replay = web.post("/admin/webhooks/webhookdelivery/", {"action": "replay", "_selected_action": [delivery.pk],
                                                           "index": 0}, follow=True)
    services.deliveries_dispatch()

    assert "order.created" in listing and "HTTP 500" in listing
    assert delivery.message_id in page and "HTTP 500" in page
    assert "1 delivery will go out again" in replay.content.decode()
    assert WebhookDelivery.objects.get().status == "delivered"
    assert [r.headers["webhook-id"] for r in receiver.received] == [delivery.message_id] * 2


def test_staff_without_the_permission_do_not_see_webhooks(make_user, endpoint):
    endpoint()
    web = _web(make_user("bare@example.com", is_staff=True))

    assert web.get("/admin/webhooks/webhookendpoint/").status_code == 403
    assert web.get("/admin/webhooks/webhookdelivery/").status_code == 403


def test_metrics_count_deliveries_and_the_oldest_undelivered(client, receiver, endpoint, place_order, customer):
    from tests.ops.conftest import samples, value

    endpoint("/hooks", ["order.created"])
    endpoint("/down", ["order.created"])
    before = samples(client.get("/metrics").content.decode())
    place_order(customer)
    services.deliveries_dispatch()

    after = samples(client.get("/metrics").content.decode())

    for outcome, added in (("delivered", 1), ("retrying", 1)):
        assert value(after, "store_webhook_deliveries_total", outcome=outcome) == value(
            before, "store_webhook_deliveries_total", outcome=outcome) + added
    assert value(after, "store_webhook_oldest_undelivered_seconds") > 0

    WebhookEndpoint.objects.filter(url__endswith="/down").update(enabled=False)  # its backlog still waits
    disabled = samples(client.get("/metrics").content.decode())
    assert value(disabled, "store_webhook_oldest_undelivered_seconds") > 0
