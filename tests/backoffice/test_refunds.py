"""Refunds from the order page: validated against what is refundable, partial then full, and
only for staff who were granted "Can refund orders"."""
import uuid
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from catalog.models import Product
from orders.models import Order, OrderEvent, Refund
from orders.states import Actor
from tests.refund_pages import refund_previewed_and_confirmed


def page_of(order: Order) -> str:
    return reverse("admin:orders_order_change", args=[order.pk])


def refund(client, order: Order, amount, reason: str = "Damaged in transit"):
    """Submit the order page's refund form, as rendered (each with a key of its own), and confirm
    it as its confirmation page does (post=yes)."""
    return refund_previewed_and_confirmed(client, reverse("admin:orders_order_refund", args=[order.pk]),
                                          {"amount": amount, "reason": reason, "idempotency_key": uuid.uuid4().hex})


def texts(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_refund_form_proposes_everything_refundable(refunder_client, order_in):
    order = order_in("delivered")

    response = refunder_client.get(page_of(order))

    html = response.content.decode()
    initial = response.context["refund_form"].initial
    assert initial["amount"] == Decimal("299.98")
    assert len(initial["idempotency_key"]) == 32  # made per render: a resubmitted form refunds once
    assert f'action="{reverse("admin:orders_order_refund", args=[order.pk])}"' in html
    assert 'name="amount"' in html and 'value="299.98"' in html and 'name="reason"' in html


@pytest.mark.parametrize("state", ["new", "awaiting_approval", "paying", "cancelled", "refunded"])
def test_no_refund_form_when_nothing_was_paid_or_all_was_refunded(refunder_client, order_in, state):
    response = refunder_client.get(page_of(order_in(state)))

    assert response.context["refund_form"] is None
    assert 'name="amount"' not in response.content.decode()


def test_an_amount_above_what_is_refundable_is_refused_on_the_page(refunder_client, order_in):
    order = order_in("paid")

    response = refund(refunder_client, order, "300.00")

    assert response.redirect_chain == [(page_of(order), 302)]
    assert texts(response) == [f"No refund: At most $299.98 can be refunded on order {order.number}."]
    assert not Refund.objects.exists()
    order = Order.objects.get(pk=order.pk)
    assert (order.state, order.refunded_amount) == ("paid", Decimal("0.00"))


@pytest.mark.parametrize(
    ("amount", "reason", "message"),
    [
        ("0", "Broken", "No refund: Amount (USD): Ensure this value is greater than or equal to 0.01."),
        ("abc", "Broken", "No refund: Amount (USD): Enter a number."),
        ("10.00", "  ", "No refund: Reason: This field is required."),
    ],
)
def test_a_malformed_refund_is_refused_on_the_page(refunder_client, order_in, amount, reason, message):
    order = order_in("paid")

    response = refund(refunder_client, order, amount, reason)

    assert texts(response) == [message]
    assert not Refund.objects.exists()


def test_a_partial_then_a_final_refund_end_in_refunded(refunder_client, refunder, order_in):
    order = order_in("delivered")

    partial = refund(refunder_client, order, "50.00", "Scratched case")
    after_partial = Order.objects.get(pk=order.pk)
    final = refund(refunder_client, order, "249.98", "Returned")

    assert texts(partial) == [f"Refunded $50.00 on order {order.number} ($249.98 left to refund)."]
    assert (after_partial.state, after_partial.refunded_amount) == ("delivered", Decimal("50.00"))
    assert texts(final) == [f"Refunded $249.98 on order {order.number}: the order is refunded in full."]
    order = Order.objects.get(pk=order.pk)
    assert (order.state, order.refunded_amount) == ("refunded", Decimal("299.98"))
    assert list(Refund.objects.filter(order=order).values_list("amount", "reason", "created_by")) == [
        (Decimal("50.00"), "Scratched case", refunder.pk),
        (Decimal("249.98"), "Returned", refunder.pk),
    ]
    events = OrderEvent.objects.filter(order=order).order_by("-id")[:2]
    assert [(e.event_type, e.transition, e.actor, e.actor_kind) for e in events] == [
        ("order.refunded", "refund", refunder, Actor.STAFF),
        ("order.partially_refunded", "", refunder, Actor.STAFF),
    ]
    page = final.content.decode()
    assert "Scratched case" in page and "Returned" in page  # the refunds inline
    assert final.context["refund_form"] is None


def test_a_full_refund_of_an_unshipped_order_releases_its_stock(refunder_client, order_in):
    order = order_in("paid")
    stock = Product.objects.get(public_id="prod-001").stock

    refund(refunder_client, order, "299.98")

    assert Order.objects.get(pk=order.pk).state == "refunded"
    assert Product.objects.get(public_id="prod-001").stock == stock + 2


def test_refunding_an_order_with_nothing_refundable_is_refused(refunder_client, order_in):
    order = order_in("awaiting_approval")

    response = refund(refunder_client, order, "10.00")

    assert texts(response) == [f"No refund: Order {order.number} has nothing left to refund."]


def test_shop_staff_without_the_refund_permission_cannot_refund(clerk_client, shop_staff, order_in, jwt_client):
    order = order_in("paid")

    page = clerk_client.get(page_of(order))
    admin_post = clerk_client.post(reverse("admin:orders_order_refund", args=[order.pk]),
                                   {"amount": "10.00", "reason": "x"})
    api_post = jwt_client(shop_staff).post(f"/api/orders/{order.pk}/refund", {"reason": "x"}, format="json")

    assert page.context["refund_form"] is None
    assert "orders_order_refund" not in page.content.decode() and 'name="amount"' not in page.content.decode()
    assert admin_post.status_code == 403
    assert api_post.status_code == 403
    assert not Refund.objects.exists()
    assert Order.objects.get(pk=order.pk).state == "paid"


def test_the_refund_url_answers_post_only(refunder_client, order_in):
    order = order_in("paid")

    assert refunder_client.get(reverse("admin:orders_order_refund", args=[order.pk])).status_code == 405


def test_the_refund_list_is_read_only(refunder_client, order_in):
    order = order_in("paid")
    refund(refunder_client, order, "5.00")

    listing = refunder_client.get(reverse("admin:orders_refund_changelist"))
    searched = refunder_client.get(reverse("admin:orders_refund_changelist"), {"q": order.number})

    assert [r.amount for r in listing.context["cl"].result_list] == [Decimal("5.00")]
    assert searched.context["cl"].result_count == 1
    assert listing.context["has_add_permission"] is False
    assert refunder_client.get(reverse("admin:orders_refund_add")).status_code == 403


@pytest.mark.parametrize("term", ["99999999999999999999999", "#99999999999999999999999", "٣"])
def test_searching_for_an_order_number_no_order_can_have_finds_nothing(refunder_client, order_in, term):
    order_in("delivered")

    for url in ("/admin/orders/refund/", "/admin/orders/order/"):
        response = refunder_client.get(url, {"q": term})
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == []


def test_the_admin_history_names_the_refunded_amount_in_dollars(refunder_client, order_in):
    order = order_in("delivered")

    refund(refunder_client, order, "10.5")

    entry = LogEntry.objects.filter(object_id=str(order.pk)).latest("action_time")
    assert entry.get_change_message().startswith("Refunded $10.50: Damaged in transit")
