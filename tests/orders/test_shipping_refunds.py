"""Refunds count the shipping: a refund of everything left (staff's, or the saga's when shipping
failed) gives back items and shipping, a line refund gives back items only, staff add the
shipping explicitly once (service and API), and the refundable amount counts both."""
from datetime import date
from decimal import Decimal

import pytest

from orders.models import Order, Refund
from orders.selectors import shipping_refundable
from orders.services import RefundLineRequest, refund_create, refund_preview
from providers.models import GatewayCall
from store.errors import Unprocessable, ValidationFailed
from workflows.pipeline import RefundInFull

SHIPPING = Decimal("12.40")


def priced(order: Order, shipping: Decimal = SHIPPING) -> Order:
    """The order as checkout would have priced it: express shipping for `shipping` on top of its items."""
    Order.objects.filter(pk=order.pk).update(
        shipping_service="express", shipping_cost=shipping, total=order.subtotal + shipping,
        delivery_earliest=date(2030, 1, 2), delivery_latest=date(2030, 1, 3))
    return Order.objects.get(pk=order.pk)


def refunded_by_gateway(order: Order) -> list[Decimal]:
    """The amounts the payment provider paid back on `order`, from its ledger."""
    calls = GatewayCall.objects.filter(gateway="payment", operation="refund", order_id=order.pk).order_by("id")
    return [Decimal(call.result["data"]["amount"]) for call in calls]


@pytest.fixture
def paid(order_in_state):
    return priced(order_in_state("paid", items={"prod-001": 2}))


def test_a_full_refund_of_an_unshipped_order_gives_back_items_and_shipping(paid, staff_user):
    assert paid.refundable_amount == paid.subtotal + SHIPPING  # what is refundable counts both

    refund = refund_create(order=paid, amount=None, reason="Out of stock after all", actor=staff_user).refund

    order = Order.objects.get(pk=paid.pk)
    assert (refund.amount, refund.shipping_amount) == (order.total, SHIPPING)
    assert refunded_by_gateway(order) == [order.total]
    assert (order.state, order.refunded_amount, order.refundable_amount) == ("refunded", order.total, Decimal("0.00"))
    assert order.events.get(event_type="order.refunded").detail["shipping"] == "12.40"


def test_the_sagas_refund_when_shipping_failed_gives_back_items_and_shipping(order_in_state):
    failed = priced(order_in_state("ship_failed", items={"prod-001": 2}))

    RefundInFull("Shipping failed").run(failed)

    order = Order.objects.get(pk=failed.pk)
    (refund,) = order.refunds.all()
    assert (refund.amount, refund.shipping_amount) == (order.total, SHIPPING)
    assert refunded_by_gateway(order) == [order.subtotal + SHIPPING]
    assert order.state == "refunded"


def test_a_full_refund_of_a_delivered_order_still_returns_what_was_paid(order_in_state, staff_user):
    delivered = priced(order_in_state("delivered"))

    refund = refund_create(order=delivered, amount=None, reason="Not as described", actor=staff_user).refund

    assert (refund.amount, refund.shipping_amount) == (delivered.total, SHIPPING)


def test_a_line_refund_gives_back_items_only(paid, staff_user):
    line = paid.lines.get()

    refund = refund_create(order=paid, amount=None, reason="Scratched", actor=staff_user,
                           lines=[RefundLineRequest(line.pk, 1)]).refund

    order = Order.objects.get(pk=paid.pk)
    assert (refund.amount, refund.shipping_amount) == (line.unit_price, Decimal("0.00"))
    assert refunded_by_gateway(order) == [line.unit_price]
    assert order.refundable_amount == line.unit_price + SHIPPING  # the other unit and the shipping
    assert shipping_refundable(order=order) == SHIPPING
    # Refunding the rest then gives back the last unit and the shipping.
    rest = refund_create(order=order, amount=None, reason="Scratched too", actor=staff_user).refund
    assert (rest.amount, rest.shipping_amount) == (line.unit_price + SHIPPING, SHIPPING)


def test_staff_add_the_shipping_to_a_line_refund_explicitly(paid, staff_user):
    line = paid.lines.get()

    plan = refund_preview(order=paid, amount=None, reason="Late", actor=staff_user,
                          lines=[RefundLineRequest(line.pk, 1)], shipping=True)
    refund = refund_create(order=paid, amount=None, reason="Late", actor=staff_user,
                           lines=[RefundLineRequest(line.pk, 1)], shipping=True).refund

    assert (plan.amount, plan.shipping_amount, plan.items_amount) == (line.unit_price + SHIPPING, SHIPPING,
                                                                      line.unit_price)
    assert (refund.amount, refund.shipping_amount) == (line.unit_price + SHIPPING, SHIPPING)
    assert Order.objects.get(pk=paid.pk).state == "paid"


def test_the_shipping_alone_is_refunded_once(paid, staff_user):
    refund = refund_create(order=paid, amount=None, reason="Arrived late", actor=staff_user, shipping=True).refund

    assert (refund.amount, refund.shipping_amount) == (SHIPPING, SHIPPING)
    order = Order.objects.get(pk=paid.pk)
    assert order.refundable_amount == order.subtotal
    with pytest.raises(ValidationFailed) as refused:
        refund_create(order=order, amount=None, reason="Again", actor=staff_user, shipping=True)
    assert refused.value.message == (f"The shipping of order {order.number} ($12.40) was refunded already; "
                                     "it is refunded once.")
    assert refused.value.fields == {"shipping": "Refunded already."}
    assert list(order.refunds.all()) == [refund]
    # A full refund afterwards gives back the items only: the shipping went back already.
    rest = refund_create(order=order, amount=None, reason="Returned", actor=staff_user).refund
    assert (rest.amount, rest.shipping_amount) == (order.subtotal, Decimal("0.00"))


def test_free_shipping_cannot_be_refunded(order_in_state, staff_user):
    free = order_in_state("paid")
    assert free.shipping_cost == Decimal("0.00")

    with pytest.raises(ValidationFailed) as refused:
        refund_create(order=free, amount=None, reason="Late", actor=staff_user, shipping=True)

    assert refused.value.message == f"Order {free.number} shipped for free: there is no shipping to refund."
    assert not Refund.objects.exists()


def test_an_amount_with_the_shipping_is_at_least_the_shipping(paid, staff_user):
    with pytest.raises(ValidationFailed) as refused:
        refund_create(order=paid, amount=Decimal("5.00"), reason="Late", actor=staff_user, shipping=True)

    assert refused.value.message == "A refund with the shipping is at least the shipping, $12.40."
    assert not Refund.objects.exists()


def test_a_partial_amount_gives_back_items_first(paid, staff_user):
    refund = refund_create(order=paid, amount=Decimal("10.00"), reason="Goodwill", actor=staff_user).refund

    assert refund.shipping_amount == Decimal("0.00")


def test_the_same_key_replays_a_shipping_refund(paid, staff_user):
    first = refund_create(order=paid, amount=None, reason="Late", actor=staff_user, shipping=True,
                          idempotency_key="k-1")
    again = refund_create(order=paid, amount=None, reason="Late", actor=staff_user, shipping=True,
                          idempotency_key="k-1")

    assert (first.created, again.created, again.refund) == (True, False, first.refund)
    assert refunded_by_gateway(paid) == [SHIPPING]


def test_the_staff_api_refunds_the_shipping_once(paid, staff_api):
    url = f"/api/orders/{paid.pk}/refund"

    first = staff_api.post(url, {"reason": "Arrived late", "shipping": True}, format="json")
    second = staff_api.post(url, {"reason": "Arrived late again", "shipping": True}, format="json")

    assert first.status_code == 200, first.content
    (refund,) = first.json()["refunds"]
    assert (refund["amount"], refund["shippingAmount"]) == (12.4, 12.4)
    assert second.status_code == 400
    assert second.json()["fields"] == {"shipping": "Refunded already."}
    assert Refund.objects.filter(order=paid).count() == 1


def test_the_same_key_with_or_without_the_shipping_is_another_refund(paid, staff_user):
    refund_create(order=paid, amount=None, reason="Late", actor=staff_user, idempotency_key="k-2",
                  lines=[RefundLineRequest(paid.lines.get().pk, 1)])

    with pytest.raises(Unprocessable):
        refund_create(order=paid, amount=None, reason="Late", actor=staff_user, idempotency_key="k-2",
                      lines=[RefundLineRequest(paid.lines.get().pk, 1)], shipping=True)

    assert paid.refunds.count() == 1


def test_the_shipping_left_after_a_straddling_refund_is_in_cents(paid, staff_user):
    refund_create(order=paid, amount=Decimal("305.00"), reason="Damaged", actor=staff_user)  # $5.02 of it shipping
    order = Order.objects.get(pk=paid.pk)
    assert str(shipping_refundable(order=order)) == "7.38"

    refund_create(order=order, amount=None, reason="Late", actor=staff_user, shipping=True)

    order = Order.objects.get(pk=paid.pk)
    calls = GatewayCall.objects.filter(gateway="payment", operation="refund", order_id=order.pk).order_by("id")
    assert [call.result["data"]["amount"] for call in calls] == ["305.00", "7.38"]
    assert order.events.get(event_type="order.refunded").detail["amount"] == "7.38"
    assert [str(refund.shipping_amount) for refund in order.refunds.order_by("id")] == ["5.02", "7.38"]
