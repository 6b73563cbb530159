"""Refunds are idempotent by key, as order placement is: a replay (API header or the admin's
resubmitted form) returns the first refund and pays nothing again, also when replays run at
once; the same key with another amount or reason is a 422."""
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from catalog.models import Product
from orders.models import Order, Refund
from orders.services import refund_create
from providers.models import GatewayCall
from providers.simulated import PaymentGateway
from tests.order_states import order_move
from tests.refund_pages import hidden_fields


@pytest.fixture
def paid_order(place_order, customer):
    return order_move(place_order(customer, {"prod-002": 2}), "paid")


def refund_calls(order: Order) -> int:
    return GatewayCall.objects.filter(order_id=order.pk, operation="refund").count()


def refund(api, order: Order, body: dict, key: str | None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(f"/api/orders/{order.pk}/refund", body, format="json", **headers)


@pytest.mark.django_db
def test_a_replayed_refund_returns_the_first_and_pays_once(paid_order, staff_api):
    body = {"amount": "10.00", "reason": "Dented box"}

    first, again = refund(staff_api, paid_order, body, "refund-1"), refund(staff_api, paid_order, body, "refund-1")

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["refundedAmount"] == again.json()["refundedAmount"] == 10.0
    assert Refund.objects.filter(order=paid_order).count() == 1
    assert refund_calls(paid_order) == 1
    # Another key is another refund.
    assert refund(staff_api, paid_order, body, "refund-2").json()["refundedAmount"] == 20.0
    assert refund_calls(paid_order) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("other", [{"amount": "11.00", "reason": "Dented box"}, {"amount": "10.00", "reason": "Late"},
                                   {"reason": "Dented box"}])
def test_the_same_key_with_another_refund_is_a_422_and_pays_nothing(paid_order, staff_api, other):
    refund(staff_api, paid_order, {"amount": "10.00", "reason": "Dented box"}, "refund-1")

    response = refund(staff_api, paid_order, other, "refund-1")

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Order.objects.get(pk=paid_order.pk).refunded_amount == Decimal("10.00")
    assert refund_calls(paid_order) == 1


@pytest.mark.django_db
def test_a_replay_after_a_full_refund_is_still_the_first_refund(paid_order, staff_api):
    body = {"reason": "Wrong item"}

    first = refund(staff_api, paid_order, body, "all-of-it")
    again = refund(staff_api, paid_order, body, "all-of-it")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["state"] == "refunded"
    assert refund_calls(paid_order) == 1


def test_concurrent_replays_make_one_refund(transactional_db, catalog, customer, staff_user, jwt_client, place_order):
    order = place_order(customer, {"prod-002": 2})  # committed: the in-process pipeline delivers it
    assert Order.objects.get(pk=order.pk).state == "delivered"
    statuses: list[int] = []

    def replay():
        try:
            response = refund(jwt_client(staff_user), order, {"amount": "5.00", "reason": "Scratch"}, "same-key")
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=replay) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert statuses == [200] * 6
    assert Refund.objects.filter(order=order).count() == 1
    assert Order.objects.get(pk=order.pk).refunded_amount == Decimal("5.00")
    assert refund_calls(order) == 1


@pytest.mark.django_db
def test_the_admins_refund_form_resubmitted_refunds_once(paid_order, staff_user):
    admin = Client()
    admin.force_login(staff_user)
    page = admin.get(f"/admin/orders/order/{paid_order.pk}/change/").content.decode()
    key = page.split('name="idempotency_key" value="')[1].split('"')[0]
    url = f"/admin/orders/order/{paid_order.pk}/refund/"
    asked = admin.post(url, {"amount": "7.00", "reason": "Scratched", "idempotency_key": key})
    form = hidden_fields(asked.content.decode())  # as its confirmation page posts it (post=yes)

    admin.post(url, form)
    again = admin.post(url, form, follow=True)

    assert "This refund of $7.00 was already made; nothing was paid again." in again.content.decode()
    assert Order.objects.get(pk=paid_order.pk).refunded_amount == Decimal("7.00")
    assert refund_calls(paid_order) == 1


@pytest.mark.django_db
def test_a_blank_key_is_refused_rather_than_protecting_nothing(paid_order, staff_api, staff_user):
    response = refund(staff_api, paid_order, {"amount": "5.00", "reason": "Scratch"}, "   ")
    admin = Client()
    admin.force_login(staff_user)
    page = admin.post(f"/admin/orders/order/{paid_order.pk}/refund/", {"amount": "5.00", "reason": "Scratch"},
                      follow=True)

    assert response.status_code == 400
    assert response.json()["error"] == "Idempotency-Key is blank."
    assert "No refund: Page: out of date: reload it." in page.content.decode()
    assert refund_calls(paid_order) == 0


class SecondSimulator(PaymentGateway):
    """The simulator under a second name, noting the refunds it was asked for."""

    name = "second"
    refunds: list = []

    def refund(self, **call):
        SecondSimulator.refunds.append((call["order_id"], call["transaction_id"], call["amount"]))
        return super().refund(**call)


def test_an_order_records_the_provider_that_charged_it_and_its_refund_goes_back_there(
    settings, order_in_state, staff_user
):
    settings.PAYMENT_PROVIDERS = {**settings.PAYMENT_PROVIDERS,
                                  "second": f"{__name__}.SecondSimulator"}
    order = order_in_state("paid")
    assert order.payment_provider == "simulator"
    Order.objects.filter(pk=order.pk).update(payment_provider="second")  # charged by the other provider

    refund_create(order=Order.objects.get(pk=order.pk), amount=Decimal("5.00"), reason="Scratched", actor=staff_user)

    assert SecondSimulator.refunds == [(order.pk, "txn_test_1", Decimal("5.00"))]
    assert Order.objects.get(pk=order.pk).refunds.get().gateway_reference.startswith("re_")


def test_a_refund_for_a_provider_the_shop_no_longer_has_is_refused_clearly(order_in_state, staff_api):
    order = order_in_state("paid")
    Order.objects.filter(pk=order.pk).update(payment_provider="gone")

    response = staff_api.post(f"/api/orders/{order.pk}/refund", {"reason": "Broken"}, format="json")

    assert response.status_code == 409
    assert "'gone'" in response.json()["error"] and "refund it there" in response.json()["error"]
    assert not Refund.objects.filter(order=order).exists()


def test_concurrent_line_refunds_never_refund_a_unit_twice(transactional_db, catalog, customer, staff_user, jwt_client,
                                                          place_order):
    order = place_order(customer, {"prod-002": 2, "prod-003": 1})  # committed: the pipeline delivers it
    line = order.lines.get(product_public_id="prod-002")
    stock = Product.objects.get(pk=line.product_id).stock
    statuses: list[int] = []

    def refund_one_unit(key: str):
        try:
            body = {"reason": "Returned", "lines": [{"lineId": line.pk, "quantity": 1}], "restock": True}
            statuses.append(refund(jwt_client(staff_user), order, body, key).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=refund_one_unit, args=(f"key-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [200, 200, 400, 400]  # 2 units bought: two refunds of one, the rest refused
    order = Order.objects.get(pk=order.pk)
    assert (order.state, order.refunded_amount) == ("delivered", 2 * line.unit_price)
    assert Product.objects.get(pk=line.product_id).stock == stock + 2
    assert refund_calls(order) == 2


def test_a_refund_the_provider_does_not_answer_is_a_503_that_wrote_nothing_and_can_be_tried_again(
    paid_order, staff_api
):
    from datetime import timedelta

    from django.utils import timezone

    from providers import simulation
    from providers.models import SimulatedOutage

    SimulatedOutage.objects.create(provider="payment", mode="error", until=timezone.now() + timedelta(minutes=1))
    simulation.outages_forget()
    body = {"amount": "10.00", "reason": "Scratched"}

    refused = refund(staff_api, paid_order, body, "refund-outage")

    assert refused.status_code == 503 and refused["Retry-After"]
    assert refused.json()["code"] == "provider_unavailable" and "nothing was refunded" in refused.json()["error"]
    assert not Refund.objects.filter(order=paid_order).exists()
    assert Order.objects.get(pk=paid_order.pk).refunded_amount == Decimal("0.00")
    SimulatedOutage.objects.all().delete()
    simulation.outages_forget()
    again = refund(staff_api, paid_order, body, "refund-outage")
    assert again.status_code == 200 and again.json()["refundedAmount"] == 10.0
    assert refund_calls(paid_order) == 1
