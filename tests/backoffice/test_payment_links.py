"""Staff e-mail the owner of an order whose payment failed a link that opens the checkout with
the order's items and address: signed, once, until it expires, for the owner only."""
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from notifications.services import notifications_resend
from orders.models import Order, OrderEvent, PaymentLink
from orders.services import order_transition
from storefront.selectors.checkout import CHECKOUT_PREFILL
from tests.conftest import CARD_APPROVE
from tests.order_states import order_move
from tests.storefront.checkout_forms import checkout_form


def payment_failed_order(user, place_order):
    order = order_move(place_order(user, {"prod-001": 1, "prod-002": 2}), "payment_failed")
    return order_transition(order_id=order.pk, name="abandon_payment")


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def send_link(client: Client, order: Order):
    return client.post(reverse("admin:orders_order_payment_link", args=[order.pk]), follow=True)


def link_in_mail() -> str:
    """The path of the payment link the last e-mail carries."""
    body = mail.outbox[-1].body
    match = re.search(r"https?://[^/\s]+(/orders/payment-link/[^\s]+/)", body)
    assert match, body
    return match.group(1)


@pytest.fixture
def failed(customer, place_order):
    return payment_failed_order(customer, place_order)


@pytest.fixture
def sent_link(failed, shop_staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send_link(web(shop_staff), failed)
    return link_in_mail()


def test_staff_send_the_customer_a_link_and_the_timeline_says_so(failed, customer, shop_staff,
                                                                  django_capture_on_commit_callbacks):
    page = web(shop_staff).get(reverse("admin:orders_order_change", args=[failed.pk])).content.decode()
    assert "Send payment link" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = send_link(web(shop_staff), failed)

    assert f"A payment link for order {failed.number} goes by e-mail to {customer.email}" in response.content.decode()
    assert [m.to for m in mail.outbox] == [[customer.email]]
    assert f"Complete your order {failed.number}" == mail.outbox[0].subject
    assert "no charge was made" in mail.outbox[0].body
    link = PaymentLink.objects.get()
    assert (link.order, link.created_by, link.used_at) == (failed, shop_staff, None)
    assert timedelta(hours=71) < link.expires_at - timezone.now() <= timedelta(hours=72)
    event = OrderEvent.objects.get(order=failed, event_type="order.payment_link_sent")
    assert (event.transition, event.actor, event.target_state) == ("", shop_staff, "failed")
    assert Order.objects.get(pk=failed.pk).state == "failed"  # no transition
    page = web(shop_staff).get(reverse("admin:orders_order_change", args=[failed.pk])).content.decode()
    assert "order.payment_link_sent" in page


def test_a_second_link_is_a_second_email(failed, shop_staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send_link(web(shop_staff), failed)
        send_link(web(shop_staff), failed)

    assert PaymentLink.objects.count() == 2
    assert len(mail.outbox) == 2 and mail.outbox[0].body != mail.outbox[1].body


def test_the_link_opens_a_prefilled_checkout_and_paying_links_the_new_order(
    failed, sent_link, customer, django_capture_on_commit_callbacks
):
    client = web(customer)

    page = client.get(sent_link, follow=True)

    assert page.redirect_chain[-1][0] == reverse("orders:checkout")
    assert {pid: item["quantity"] for pid, item in client.session["cart"].items()} == {"prod-001": 1, "prod-002": 2}
    form = page.context["form"]
    assert form["address"].value() == failed.ship_address and form["zip"].value() == failed.ship_zip

    with django_capture_on_commit_callbacks(execute=True):  # the pipeline runs in-process (sync mode)
        client.post(reverse("orders:checkout"), {**checkout_form(page.content.decode())[0],
                                                 "card_number": CARD_APPROVE})

    new = Order.objects.exclude(pk=failed.pk).get()
    assert (new.state, new.retry_of_id) == ("delivered", failed.pk)
    assert list(Order.objects.get(pk=failed.pk).retries.all()) == [new]
    assert CHECKOUT_PREFILL not in client.session
    staff_page = web(PaymentLink.objects.get().created_by).get(
        reverse("admin:orders_order_change", args=[failed.pk])).content.decode()
    assert f"tried again as order <a href=\"{reverse('admin:orders_order_change', args=[new.pk])}\">{new.number}</a>" \
        in staff_page


def test_a_used_link_is_refused_and_nothing_is_written(failed, sent_link, customer):
    first = web(customer)
    first.get(sent_link)
    used_at = PaymentLink.objects.get().used_at
    again = web(customer)

    response = again.get(sent_link)

    assert response.status_code == 410
    assert f"This payment link for order {failed.number} was already used." in response.content.decode()
    assert f'href="{reverse("orders:order_detail", args=[failed.pk])}"' in response.content.decode()
    assert "cart" not in again.session or again.session["cart"] == {}
    assert CHECKOUT_PREFILL not in again.session
    assert PaymentLink.objects.get().used_at == used_at


def test_an_expired_link_is_refused_and_nothing_is_written(failed, sent_link, customer):
    PaymentLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    client = web(customer)

    response = client.get(sent_link)

    assert response.status_code == 410
    assert f"This payment link for order {failed.number} has expired." in response.content.decode()
    assert CHECKOUT_PREFILL not in client.session and not client.session.get("cart")
    assert PaymentLink.objects.get().used_at is None


def test_the_expiry_is_a_setting(failed, shop_staff, settings):
    settings.PAYMENT_LINK_MAX_AGE_HOURS = 1

    send_link(web(shop_staff), failed)

    assert PaymentLink.objects.get().expires_at - timezone.now() <= timedelta(hours=1)


def test_another_customer_cannot_use_the_link(failed, sent_link, other_customer):
    client = web(other_customer)

    response = client.get(sent_link)

    assert response.status_code == 404
    assert CHECKOUT_PREFILL not in client.session and not client.session.get("cart")
    assert PaymentLink.objects.get().used_at is None


def test_signed_out_the_link_asks_to_sign_in_first(failed, sent_link):
    response = Client().get(sent_link)

    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    assert PaymentLink.objects.get().used_at is None


def test_a_tampered_link_is_not_found(failed, sent_link, customer):
    response = web(customer).get(sent_link.replace("/payment-link/", "/payment-link/x"))

    assert response.status_code == 404
    assert PaymentLink.objects.get().used_at is None


@pytest.mark.parametrize("value", ["not-a-number", [1], None, 1.5])
def test_a_value_signed_by_the_shop_that_is_not_a_link_is_not_found(failed, sent_link, customer, value):
    from django.core import signing

    token = signing.dumps(value, salt="orders.payment-link")

    response = web(customer).get(reverse("orders:payment_link", args=[token]))

    assert response.status_code == 404
    assert PaymentLink.objects.get().used_at is None


def test_staff_without_change_order_cannot_send_a_link(failed, make_user):
    viewer = make_user("viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="view_order"))

    page = web(viewer).get(reverse("admin:orders_order_change", args=[failed.pk])).content.decode()
    response = web(viewer).post(reverse("admin:orders_order_payment_link", args=[failed.pk]))

    assert "Send payment link" not in page
    assert response.status_code == 403
    assert not PaymentLink.objects.exists()
    assert not OrderEvent.objects.filter(event_type="order.payment_link_sent").exists()


@pytest.mark.parametrize("state", ["paid", "cancelled", "awaiting_approval"])
def test_only_an_order_whose_payment_failed_gets_a_link(state, order_in, shop_staff):
    order = order_in(state)

    page = web(shop_staff).get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    response = send_link(web(shop_staff), order)

    assert "Send payment link" not in page
    assert "No payment link sent:" in response.content.decode()
    assert not PaymentLink.objects.exists()


def test_an_out_of_stock_failure_gets_no_link(order_in, shop_staff):
    order = order_in("failed")  # the inventory check failed: paying again would not help

    send_link(web(shop_staff), order)

    assert not PaymentLink.objects.exists()


def test_sending_a_link_is_post_only(failed, shop_staff):
    response = web(shop_staff).get(reverse("admin:orders_order_payment_link", args=[failed.pk]))

    assert response.status_code == 405
    assert not PaymentLink.objects.exists()


# --- the same action on the API --------------------------------------------------------------

def test_staff_send_a_link_through_the_api(failed, customer, shop_staff, jwt_client,
                                           django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = jwt_client(shop_staff).post(f"/api/orders/{failed.pk}/payment-link", {}, format="json")

    assert response.status_code == 200
    assert response.json()["timeline"][-1]["event"] == "order.payment_link_sent"
    assert [m.to for m in mail.outbox] == [[customer.email]]
    assert PaymentLink.objects.get().order == failed


def test_the_api_refuses_staff_without_change_order(failed, make_user, jwt_client):
    viewer = make_user("viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="view_order"))

    response = jwt_client(viewer).post(f"/api/orders/{failed.pk}/payment-link", {}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not PaymentLink.objects.exists()


def test_the_api_refuses_an_order_whose_payment_did_not_fail(order_in, shop_staff, jwt_client):
    order = order_in("paid")

    response = jwt_client(shop_staff).post(f"/api/orders/{order.pk}/payment-link", {}, format="json")

    assert response.status_code == 409
    assert "a payment link is only sent for an order whose payment failed" in response.json()["error"]
    assert not PaymentLink.objects.exists()


def placed_again(client: Client, order: Order) -> Order:
    """The customer's Try again on `order`, then the checkout it opens placed as shown."""
    page = client.post(reverse("orders:order_try_again", args=[order.pk]), follow=True)
    client.post(reverse("orders:checkout"), {**checkout_form(page.content.decode())[0], "card_number": CARD_APPROVE})
    return Order.objects.get(retry_of=order)


def test_a_link_for_an_order_already_placed_again_is_refused(failed, sent_link, customer):
    client = web(customer)
    again = placed_again(client, failed)

    response = client.get(sent_link)

    assert response.status_code == 409
    html = response.content.decode()
    assert f"Order {failed.number} was already placed again as order {again.number}." in html
    assert f'href="{reverse("orders:order_detail", args=[again.pk])}"' in html
    assert PaymentLink.objects.get().used_at is None
    assert client.session.get("cart", {}) == {} and CHECKOUT_PREFILL not in client.session
    assert Order.objects.count() == 2


def test_no_link_is_sent_for_an_order_the_customer_already_placed_again(failed, customer, shop_staff, jwt_client):
    again = placed_again(web(customer), failed)

    page = web(shop_staff).get(reverse("admin:orders_order_change", args=[failed.pk])).content.decode()
    response = send_link(web(shop_staff), failed)
    api = jwt_client(shop_staff).post(f"/api/orders/{failed.pk}/payment-link", {}, format="json")

    assert "Send payment link" not in page
    assert f"No payment link sent: Order {failed.number} was already placed again as order {again.number}." \
        in response.content.decode()
    assert api.status_code == 409 and api.json()["code"] == "already_retried"
    assert not PaymentLink.objects.exists() and mail.outbox == []


def test_with_the_mail_server_down_the_link_waits_on_the_shop_and_goes_out_once_it_is_back(
        failed, customer, shop_staff, settings, django_capture_on_commit_callbacks):
    settings.PIPELINE_TASKS_SYNC = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1  # nothing listens
    with django_capture_on_commit_callbacks(execute=True):
        response = send_link(web(shop_staff), failed)

    page = response.content.decode()
    assert f"A payment link for order {failed.number} goes by e-mail to {customer.email}" in page
    assert "was e-mailed" not in page
    page = web(shop_staff).get(reverse("admin:orders_order_change", args=[failed.pk])).content.decode()
    assert "not sent yet (tried 1×" in page  # the order's notifications say the e-mail did not go out
    notice = Notification.objects.get(order=failed, event_type__startswith="order.payment_link_sent")
    assert "/orders/payment-link/" in notice.body  # the customer has the link on the shop meanwhile

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notifications_resend(now=timezone.now() + timedelta(minutes=2)) >= 1
    assert [m.subject for m in mail.outbox if m.to == [customer.email]][-1] == f"Complete your order {failed.number}"
    page = web(shop_staff).get(reverse("admin:orders_order_change", args=[failed.pk])).content.decode()
    assert "sent 20" in page
    response = web(customer).get(link_in_mail(), follow=True)
    assert response.status_code == 200 and response.redirect_chain  # the e-mailed link opens checkout


def test_the_link_checks_the_shipping_service_the_failed_order_had(failed, sent_link, customer):
    Order.objects.filter(pk=failed.pk).update(shipping_service="express")

    page = web(customer).get(sent_link, follow=True)

    fields, rates = checkout_form(page.content.decode())
    assert fields["shipping_rate"] == rates["express"]
