"""Order services: placement, stock, idempotency, cancel, refunds."""
from decimal import Decimal

import pytest

from catalog.models import Product
from orders.models import Order
from orders.services import (
    LineRequest,
    ShippingAddress,
    TransitionRefused,
    order_cancel,
    order_place,
    refund_create,
)
from orders.stock import InsufficientStock
from providers.models import CardToken
from store.errors import Unprocessable, ValidationFailed
from tests.conftest import SHIPPING
from tests.order_states import order_move

ADDRESS = ShippingAddress(**SHIPPING)


def stock(public_id: str) -> int:
    return Product.objects.get(public_id=public_id).stock


def test_placement_prices_lines_from_the_catalog_and_reserves_stock(customer, catalog):
    result = order_place(user=customer, lines=[LineRequest("prod-001", 2), LineRequest("prod-005", 1)],
                         shipping=ADDRESS)
    order = result.order
    assert result.created and order.state == "new"
    assert order.total == Decimal("149.99") * 2 + Decimal("34.99")
    assert [(line.name, line.unit_price, line.quantity) for line in order.lines.all()] == [
        ("Mechanical Keyboard", Decimal("149.99"), 2), ("Desk Mat", Decimal("34.99"), 1)]
    assert stock("prod-001") == 48 and stock("prod-005") == 199
    assert order.events.get().event_type == "order.created"


def test_repeated_lines_are_merged(customer, catalog):
    order = order_place(user=customer, lines=[LineRequest("prod-002", 1), LineRequest("prod-002", 2)],
                        shipping=ADDRESS).order
    assert list(order.lines.values_list("quantity", flat=True)) == [3]


def test_not_enough_stock_reserves_nothing_and_names_the_product(customer, catalog):
    with pytest.raises(InsufficientStock) as refused:
        order_place(user=customer, lines=[LineRequest("prod-002", 1), LineRequest("prod-001", 51)], shipping=ADDRESS)
    assert refused.value.status == 409
    assert "Mechanical Keyboard" in refused.value.message
    assert stock("prod-001") == 50 and stock("prod-002") == 120
    assert not Order.objects.exists()


def test_inactive_or_unknown_products_are_refused(customer, catalog):
    Product.objects.filter(public_id="prod-003").update(is_active=False)
    with pytest.raises(ValidationFailed) as refused:
        order_place(user=customer, lines=[LineRequest("prod-003", 1), LineRequest("prod-999", 1)], shipping=ADDRESS)
    assert set(refused.value.fields["items"]) == {"prod-003", "prod-999"}


def test_the_card_number_is_never_stored(customer, catalog):
    order = order_place(user=customer, lines=[LineRequest("prod-002", 1)], shipping=ADDRESS,
                        card_number="4242 4242 4242 4242").order
    assert order.card_last4 == "4242" and order.payment_token.startswith("tok_")
    token = CardToken.objects.get(token=order.payment_token)
    stored = [str(v) for obj in (order, token) for v in obj.__dict__.values()]
    assert not any("4242424242424242" in value for value in stored)


def test_idempotency_key_replay_returns_the_first_order(customer, catalog):
    first = order_place(user=customer, lines=[LineRequest("prod-002", 1)], shipping=ADDRESS, idempotency_key="k-1")
    again = order_place(user=customer, lines=[LineRequest("prod-002", 1)], shipping=ADDRESS, idempotency_key="k-1")
    assert first.created and not again.created and again.order.pk == first.order.pk
    assert stock("prod-002") == 119


def test_idempotency_key_with_another_request_is_refused(customer, catalog):
    order_place(user=customer, lines=[LineRequest("prod-002", 1)], shipping=ADDRESS, idempotency_key="k-2")
    with pytest.raises(Unprocessable):
        order_place(user=customer, lines=[LineRequest("prod-002", 2)], shipping=ADDRESS, idempotency_key="k-2")


def test_cancel_releases_stock_exactly_once(customer, catalog):
    order = order_place(user=customer, lines=[LineRequest("prod-001", 5)], shipping=ADDRESS).order
    order_cancel(order=order, actor=customer)
    assert stock("prod-001") == 50
    with pytest.raises(TransitionRefused):
        order_cancel(order=Order.objects.get(pk=order.pk), actor=customer)
    assert stock("prod-001") == 50
    order.refresh_from_db()
    assert order.state == "cancelled" and order.stock_status == "released"


def test_cancel_after_validation_is_the_same_cancel(customer, catalog):
    order = order_place(user=customer, lines=[LineRequest("prod-001", 1)], shipping=ADDRESS).order
    cancelled = order_cancel(order=order_move(order, "validated"), actor=customer)
    assert cancelled.state == "cancelled"
    assert cancelled.events.last().transition == "cancel"
    assert stock("prod-001") == 50


@pytest.fixture
def paid_order(customer, catalog):
    return order_move(order_place(user=customer, lines=[LineRequest("prod-001", 2)], shipping=ADDRESS).order, "paid")


def test_partial_then_final_refund_ends_refunded_and_releases_unshipped_stock(paid_order, staff_user):
    refund_create(order=paid_order, amount=Decimal("100.00"), reason="Damaged box", actor=staff_user)
    order = Order.objects.get(pk=paid_order.pk)
    assert order.state == "paid" and order.refunded_amount == Decimal("100.00")
    refund_create(order=order, amount=Decimal("199.98"), reason="Customer changed mind", actor=staff_user)
    order = Order.objects.get(pk=paid_order.pk)
    assert order.state == "refunded" and order.refunded_amount == order.total
    assert order.refunds.count() == 2
    assert stock("prod-001") == 50
    refund_event = order.events.get(transition="refund")
    assert refund_event.actor == staff_user and refund_event.actor_kind == "staff"


def test_refund_above_what_is_refundable_is_refused(paid_order, staff_user):
    with pytest.raises(ValidationFailed) as refused:
        refund_create(order=paid_order, amount=Decimal("300.00"), reason="Too much", actor=staff_user)
    assert "299.98" in refused.value.message
    assert not paid_order.refunds.exists()


def test_refund_of_an_unpaid_order_is_refused(customer, catalog, staff_user):
    order = order_place(user=customer, lines=[LineRequest("prod-001", 1)], shipping=ADDRESS).order
    with pytest.raises(TransitionRefused):
        refund_create(order=order, amount=None, reason="No", actor=staff_user)
