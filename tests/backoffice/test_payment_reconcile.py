"""The admin's order page while a payment is pending: the charge it waits for, the provider's
callbacks (a stale but genuine one too; never a forged one) and "Check with the provider"."""
import re
import time

import pytest
from django.test import Client
from django.urls import reverse
from prometheus_client import REGISTRY

from orders.models import Order, PaymentWebhookEvent
from providers.webhooks import SIGNATURE_HEADER, signature_header
from tests.backoffice.test_order_actions import page_of, texts, viewer_client
from tests.payment_events import CARD_PENDING, WEBHOOK, bank_answered, deliver, event_for, pending_charge


def reconcile_url(order: Order) -> str:
    return reverse("admin:orders_order_reconcile", args=[order.pk])


@pytest.fixture
def pending(sync_pipeline, customer, place_order) -> Order:
    """An order whose 3-D Secure charge waits for the bank (the tests' callbacks are off)."""
    return Order.objects.get(pk=place_order(customer, card=CARD_PENDING).pk)


def test_the_order_page_shows_the_pending_charge_and_the_button(pending, clerk_client):
    charge = pending_charge(pending.pk)

    html = clerk_client.get(page_of(pending)).content.decode()

    assert f"<code>{pending.charge_key}</code>" in html
    assert f"<dt>Pending charge</dt><dd><code>{charge.result['reference']}</code></dd>" in html
    assert ("Waiting for the payment provider's confirmation of charge "
            f"<code>{charge.result['reference']}</code> (3-D Secure or a bank transfer)") in html
    assert f'action="{reconcile_url(pending)}"' in html and "Check with the provider" in html


def test_check_with_the_provider_settles_an_approved_charge(pending, clerk_client):
    bank_answered(pending.pk)

    response = clerk_client.post(reconcile_url(pending), follow=True)

    order = Order.objects.get(pk=pending.pk)
    assert order.state == "delivered"  # paid, then handed back to the pipeline
    assert texts(response) == [f"The provider says the charge was approved: order {order.number} is paid."]
    approved = order.events.get(transition="payment_approved")
    assert approved.detail["asked_by"] == "clerk@example.com"
    assert "Check with the provider" not in clerk_client.get(page_of(order)).content.decode()


def test_check_with_the_provider_says_when_the_bank_has_not_answered(pending, clerk_client):
    response = clerk_client.post(reconcile_url(pending), follow=True)

    assert texts(response) == [f"The provider still waits for the bank (charge {pending.charge_key}); the order "
                               "keeps waiting until its deadline."]
    assert Order.objects.get(pk=pending.pk).state == "paying"


def test_check_with_the_provider_needs_change_order_post_and_the_csrf_token(pending, make_user, shop_staff):
    bank_answered(pending.pk)
    viewer = viewer_client(make_user)
    page = viewer.get(page_of(pending))
    assert page.status_code == 200 and "Check with the provider" not in page.content.decode()
    assert viewer.post(reconcile_url(pending)).status_code == 403

    client = Client(enforce_csrf_checks=True)
    client.force_login(shop_staff)
    assert client.get(reconcile_url(pending)).status_code == 405
    assert client.post(reconcile_url(pending)).status_code == 403  # no CSRF token
    assert Order.objects.get(pk=pending.pk).state == "paying"

    token = client.get(page_of(pending)).context["csrf_token"]
    assert client.post(reconcile_url(pending), {"csrfmiddlewaretoken": str(token)}).status_code == 302
    assert Order.objects.get(pk=pending.pk).state == "delivered"


def _refused() -> dict[str, float]:
    return {code: REGISTRY.get_sample_value("store_payment_webhook_refused_total", {"code": code}) or 0
            for code in ("stale_signature", "bad_signature")}


def test_a_stale_but_genuine_callback_is_shown_a_forged_one_is_only_counted(pending, client, clerk_client):
    before = _refused()
    stale = event_for(pending.pk)
    forged = event_for(pending.pk)

    stale_answer = deliver(client, stale, timestamp=int(time.time()) - 400)  # the web's clock 400 s ahead
    body = forged.body()
    forged_answer = client.post(WEBHOOK, data=body, content_type="application/json",
                                headers={SIGNATURE_HEADER: signature_header(body, secret="guessed")})

    assert (stale_answer.status_code, forged_answer.status_code) == (400, 400)
    after = _refused()
    assert after == {"stale_signature": before["stale_signature"] + 1, "bad_signature": before["bad_signature"] + 1}
    kept = PaymentWebhookEvent.objects.get()
    assert (kept.event_id, kept.outcome, kept.order_id) == (stale.id, "refused", pending.pk)
    # 400 s, or 401 when the clock's second turned between signing and checking.
    assert re.match(r"The signature's timestamp is 40[01] s old \(at most 300 s\)\.$", kept.note), kept.note
    html = clerk_client.get(page_of(pending)).content.decode()
    assert stale.id in html and forged.id not in html
    # The provider delivers it again, signed in time: applied, replacing the refused delivery.
    assert deliver(client, stale).json()["status"] == "processed"
    assert PaymentWebhookEvent.objects.get().outcome == "applied"
