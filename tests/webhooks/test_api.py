"""/api/webhooks: registering endpoints (checked as the admin checks them), the secret shown only
when made, the delivery log, replay, and refusals without the webhook permission."""
import pytest

from webhooks import services
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

BODY = {"url": "https://erp.example/hooks", "events": ["order.paid", "order.shipped"], "enabled": True}


def test_staff_register_an_endpoint_and_see_its_secret_once(jwt_client, webhook_admin):
    api = jwt_client(webhook_admin)

    created = api.post("/api/webhooks", BODY, format="json")

    assert created.status_code == 201
    body = created.json()
    assert {"id", "url", "events", "enabled", "secret"} <= set(body)
    assert (body["url"], body["events"], body["enabled"]) == (BODY["url"], BODY["events"], True)
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 30
    assert "secret" not in api.get("/api/webhooks").json()[0]
    assert "secret" not in api.get(f"/api/webhooks/{body['id']}").json()
    assert "secret" not in api.patch(f"/api/webhooks/{body['id']}", {"enabled": False}, format="json").json()

    rotated = api.post(f"/api/webhooks/{body['id']}/rotate-secret", format="json")

    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in ("", body["secret"])
    assert WebhookEndpoint.objects.get(pk=body["id"]).secret == rotated.json()["secret"]


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"url": "ftp://erp.example/hooks"}, "url", "Only http and https URLs can receive webhooks."),
    ({"url": "not a url"}, "url", "Enter a valid URL."),
    ({"events": ["order.nope"]}, "events", "Unknown event type 'order.nope'"),
    ({"events": []}, "events", "This list may not be empty."),
    ({"events": "order.paid"}, "events", 'Expected a list of items but got type "str".'),
    ({"url": "http://[::1"}, "url", "The URL is not valid: check its host."),
    ({"url": "http://[foo]/"}, "url", "The URL is not valid: check its host."),
])
def test_invalid_endpoints_are_field_errors(change, field, message, jwt_client, webhook_admin):
    response = jwt_client(webhook_admin).post("/api/webhooks", {**BODY, **change}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert message in " ".join(response.json()["fields"][field])
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1/hooks", "http://10.1.2.3/hooks", "http://192.168.0.9/hooks",
                                 "http://169.254.169.254/latest", "http://[::1]/hooks", "http://100.64.0.1/hooks",
                                 "http://localhost:8080/hooks"])
def test_private_and_loopback_addresses_are_refused_without_the_setting(url, jwt_client, webhook_admin, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False

    response = jwt_client(webhook_admin).post("/api/webhooks", {**BODY, "url": url}, format="json")

    assert response.status_code == 400
    assert "which is not a public address" in response.json()["fields"]["url"][0]


def test_with_the_setting_a_loopback_receiver_may_be_registered(jwt_client, webhook_admin, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True

    response = jwt_client(webhook_admin).post("/api/webhooks", {**BODY, "url": "http://localhost:8080/h"},
                                              format="json")

    assert response.status_code == 201


def test_an_address_that_became_private_is_refused_at_delivery(receiver, endpoint, place_order, customer, settings):
    from webhooks import services

    hooks = endpoint("/hooks")  # registered while private addresses were allowed
    place_order(customer)
    settings.WEBHOOK_ALLOW_PRIVATE = False

    services.deliveries_dispatch()

    delivery = hooks.deliveries.get()
    assert receiver.received == []
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == "127.0.0.1 leads to 127.0.0.1, which is not a public address."


@pytest.mark.parametrize("who", ["customer", "staff"])
def test_without_the_webhook_permission_every_request_is_refused(who, jwt_client, customer, make_user, endpoint):
    user = customer if who == "customer" else make_user("bare@example.com", is_staff=True)
    hooks = endpoint()
    api = jwt_client(user)

    answers = [api.get("/api/webhooks"), api.post("/api/webhooks", BODY, format="json"),
               api.get(f"/api/webhooks/{hooks.pk}"), api.post(f"/api/webhooks/{hooks.pk}/rotate-secret"),
               api.get(f"/api/webhooks/{hooks.pk}/deliveries")]

    assert {response.status_code for response in answers} == {403}
    assert answers[0].json() == {"error": "You do not have permission to manage webhooks.",
                                 "code": "permission_denied"}
    assert WebhookEndpoint.objects.get().secret == hooks.secret


def test_the_delivery_log_shows_each_attempt_and_one_delivery_replays(receiver, endpoint, place_order, customer,
                                                                      jwt_client, webhook_admin):
    from webhooks import services

    hooks = endpoint("/hooks", ["order.created"])
    receiver.answers["/hooks"] = [502]
    place_order(customer)
    services.deliveries_dispatch()
    services.deliveries_dispatch()
    api = jwt_client(webhook_admin)

    log = api.get(f"/api/webhooks/{hooks.pk}/deliveries").json()

    assert len(log) == 1
    assert (log[0]["type"], log[0]["status"], log[0]["attempts"]) == ("order.created", "delivered", 2)
    assert [(a["number"], a["status"], a["ok"]) for a in log[0]["log"]] == [(2, 200, True), (1, 502, False)]
    assert log[0]["log"][1]["error"] == "HTTP 502"

    replayed = api.post(f"/api/webhooks/deliveries/{log[0]['id']}/replay")
    services.deliveries_dispatch()

    assert replayed.json() == {"replayed": 1}
    assert receiver.received[-1].headers["webhook-id"] == log[0]["messageId"]
    assert len(receiver.received) == 3


def test_endpoint_changes_are_in_the_audit_trail_without_the_secret(jwt_client, webhook_admin):
    from auditlog.models import LogEntry

    api = jwt_client(webhook_admin)
    created = api.post("/api/webhooks", BODY, format="json").json()
    api.post(f"/api/webhooks/{created['id']}/rotate-secret")

    entries = LogEntry.objects.filter(content_type__app_label="webhooks").order_by("pk")
    assert entries.count() == 2
    assert all(entry.actor == webhook_admin for entry in entries)
    assert created["secret"] not in str([entry.changes for entry in entries])
    assert entries.last().changes_dict["secret"] == ["(hidden)", "(hidden)"]


def test_a_change_from_a_stale_copy_keeps_a_rotation_and_a_disabling_made_meanwhile(webhook_admin, endpoint):
    stale = endpoint("/hooks")  # e.g. the admin's change form, opened earlier
    rotated = services.endpoint_secret_rotate(endpoint=WebhookEndpoint.objects.get(pk=stale.pk), actor=webhook_admin)
    WebhookEndpoint.objects.filter(pk=stale.pk).update(enabled=False, disabled_reason="Disabled after 20 failed "
                                                                                      "attempts in a row.")

    services.endpoint_update(endpoint=stale, actor=webhook_admin, description="The ERP")

    now = WebhookEndpoint.objects.get(pk=stale.pk)
    assert (now.description, now.secret, now.enabled) == ("The ERP", rotated.secret, False)
    assert now.disabled_reason == "Disabled after 20 failed attempts in a row."
