"""Each way an order ends or waits tells its customer, on the order page and in the e-mail, what
happened to the money and what they may do next, as declared on the transition that got it there."""
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from notifications.models import Notification
from notifications.services import MESSAGES
from orders.models import Next, Order
from orders.services import order_cancel, order_reject, order_transition, refund_create
from orders.services.reorder import shop_contact_email
from orders.states import Actor
from store.links import public_url
from store.money import money as amount
from tests.order_states import order_move
from tests.review_rules import rule_create
from tests.storefront.checkout_forms import checkout_fields


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_of(user, order: Order) -> str:
    return web(user).get(reverse("orders:order_detail", args=[order.pk])).content.decode()


def offered(html: str) -> list[str]:
    """The options the page offers (`data-next-step`), the main one first; None without a next step."""
    found = re.search(r'data-next-step="([^"]*)"', html)
    return found.group(1).split() if found else None


def fresh(order: Order) -> Order:
    return Order.objects.get(pk=order.pk)


# --- every ending and wait: (how the order gets there, its next step, options, money, the e-mail) -------------

def declined(order, staff):
    order_move(order, "payment_failed")
    return order_transition(order_id=order.pk, name="abandon_payment")


def never_confirmed(order, staff):
    order_move(order, "paying")
    return order_transition(order_id=order.pk, name="payment_expired", reason="Your bank did not confirm the payment")


def out_of_stock(order, staff):
    order_move(order, "validating")
    return order_transition(order_id=order.pk, name="validation_failed", reason="Out of stock: Laptop Stand")


def rejected_by_staff(order, staff):
    return order_reject(order=order_move(order, "awaiting_approval"), actor=staff)


def rejected_by_a_rule(order, staff):
    order_move(order, "validated")
    return order_transition(order_id=order.pk, name="rule_reject", reason="We do not ship there")


def rejected_at_the_deadline(order, staff):
    order_move(order, "awaiting_approval")
    return order_transition(order_id=order.pk, name="auto_reject")


def cancelled_by_the_customer(order, staff):
    return order_cancel(order=order, actor=order.owner)


def cancelled_by_the_shop(order, staff):
    return order_cancel(order=order, actor=staff, customer_message="We cannot ship this now.")


def undeliverable(order, staff):
    order_move(order, "checking_address")
    return order_transition(order_id=order.pk, name="address_undeliverable",
                            reason="Undeliverable address (ZIP 00000)")


def label_failed(order, staff):
    # The address check passed; the carrier's label failed after the charge and the saga refunded it.
    order_move(order, "ship_failed")
    refund_create(order=fresh(order), amount=None, reason="Shipping failed: The carrier could not create a label",
                  actor=None, actor_kind=Actor.SYSTEM, idempotency_key=f"order-{order.pk}-refund-in-full")
    return fresh(order)


def refunded_by_staff(order, staff):
    refund_create(order=order_move(order, "delivered"), amount=None, reason="Damaged", actor=staff)
    return fresh(order)


def delivered(order, staff):
    return order_move(order, "delivered")


def returned(order, staff):
    order_move(order, "shipped")
    order_transition(order_id=order.pk, name="return_to_sender", reason="Refused")
    refund_create(order=fresh(order), amount=None, reason="Returned to sender", actor=None, actor_kind=Actor.SYSTEM)
    return fresh(order)


def held(order, staff):
    return order_move(order, "awaiting_approval")


def delayed(order, staff):
    order_move(order, "paying")
    return order_transition(order_id=order.pk, name="provider_unavailable", reason="timeout")


ENDINGS = [
    # (how, state, step, options, money ({total}: the order's), the e-mail's event or "")
    (declined, "failed", Next.ANOTHER_CARD, ["another_card"], "No charge was made.", "order.failed"),
    (never_confirmed, "failed", Next.ANOTHER_CARD, ["another_card"], "No charge was made.", "order.failed"),
    (out_of_stock, "failed", Next.OUT_OF_STOCK, ["shop_again"], "No charge was made.", "order.failed"),
    (rejected_by_staff, "cancelled", Next.CONTACT_SHOP, ["contact_shop"], "No charge was made.", "order.cancelled"),
    (rejected_by_a_rule, "cancelled", Next.CONTACT_SHOP, ["contact_shop"], "No charge was made.", "order.cancelled"),
    (rejected_at_the_deadline, "cancelled", Next.CONTACT_SHOP, ["contact_shop"], "No charge was made.",
     "order.cancelled"),
    (cancelled_by_the_customer, "cancelled", Next.SHOP_AGAIN, ["shop_again"], "No charge was made.",
     "order.cancelled"),
    (cancelled_by_the_shop, "cancelled", Next.CONTACT_SHOP, ["contact_shop"], "No charge was made.",
     "order.cancelled"),
    (undeliverable, "failed", Next.CORRECT_ADDRESS, ["correct_address"], "No charge was made.", "order.failed"),
    (label_failed, "refunded", Next.NOT_SHIPPED, ["contact_shop", "shop_again"], "Refunded {total}.",
     "order.refunded"),
    (refunded_by_staff, "refunded", Next.REFUNDED, ["contact_shop", "shop_again"], "Refunded {total}.",
     "order.refunded"),
    (delivered, "delivered", Next.DELIVERED, ["shop_again", "contact_shop"], "Paid {total}.", "order.delivered"),
    (returned, "returned", Next.REFUNDED, ["contact_shop", "shop_again"], "Refunded {total}.", "order.returned"),
    (held, "awaiting_approval", Next.REVIEWED, [], "Nothing was charged yet.", "order.held"),
    (delayed, "stalled", Next.DELAYED, [], "Nothing was charged yet.", ""),
]


@pytest.mark.parametrize(("how", "state", "step", "options", "money", "event"), ENDINGS,
                         ids=[ending[0].__name__ for ending in ENDINGS])
def test_each_ending_and_wait_shows_its_own_next_step_on_the_page_and_in_the_email(
    how, state, step, options, money, event, customer, staff_user, place_order
):
    order = how(place_order(customer, {"prod-001": 2}), staff_user)
    assert order.state == state

    html = page_of(customer, order)

    assert offered(html) == options
    assert money.format(total=amount(order.total)) in html and step.advice in html
    if event:
        told = Notification.objects.get(order=order, event_type=event).body
        assert step.advice in told
        if "{money}" in MESSAGES[event][1]:
            assert money.format(total=amount(order.total)) in told
        if "another_card" in options or "correct_address" in options:
            assert f"{step.options[0].label}: {public_url(reverse('orders:order_detail', args=[order.pk]))}." in told
        if "contact_shop" in options:
            assert f"Contact the shop: {shop_contact_email()}." in told
        if "shop_again" in options:
            assert f"Shop again: {public_url(reverse('catalog:product_list'))}." in told


@pytest.mark.parametrize("how", [rejected_by_staff, rejected_by_a_rule, rejected_at_the_deadline,
                                 cancelled_by_the_shop, cancelled_by_the_customer])
def test_an_order_the_shop_or_the_customer_stopped_offers_no_other_card(how, customer, staff_user, place_order):
    order = how(place_order(customer, {"prod-001": 2}), staff_user)

    html = page_of(customer, order)
    told = Notification.objects.get(order=order, event_type="order.cancelled").body

    assert "another card" not in html and "another card" not in told
    assert ">Try again</button>" not in html
    response = web(customer).post(reverse("orders:order_try_again", args=[order.pk]), follow=True)
    assert any("there is nothing to try again" in str(message) for message in response.context["messages"])
    assert web(customer).session.get("cart") in (None, {})


def test_a_rejected_order_links_to_the_shops_address(customer, staff_user, place_order):
    order = rejected_by_staff(place_order(customer), staff_user)

    html = page_of(customer, order)

    assert f'href="mailto:{shop_contact_email()}">Contact the shop</a>' in html


def test_a_customer_cancelled_order_links_to_the_catalog(customer, staff_user, place_order):
    order = cancelled_by_the_customer(place_order(customer), staff_user)

    html = page_of(customer, order)

    assert f'href="{reverse("catalog:product_list")}">Shop again</a>' in html
    assert "You cancelled this order." in html


def test_a_high_risk_order_the_shop_rejects_invites_no_reorder_to_the_same_address(sync_pipeline, customer,
                                                                                    staff_user, place_order):
    rule_create("High risk", "risk_score", "gte", 80)
    order = place_order(customer, {"prod-001": 1}, zip="99999")
    assert fresh(order).state == "awaiting_approval"

    order = order_reject(order=fresh(order), actor=staff_user)

    html = page_of(customer, order)
    assert offered(html) == ["contact_shop"]
    assert "Correct the address" not in html and ">Try again</button>" not in html


def test_staff_reading_a_customers_failed_order_are_not_offered_its_try_again(customer, staff_user, place_order):
    order = declined(place_order(customer), staff_user)

    html = page_of(staff_user, order)

    assert offered(html) == []
    assert Next.ANOTHER_CARD.advice in html


# --- correcting an undeliverable address --------------------------------------------------------------------

def test_an_undeliverable_order_is_placed_again_to_a_corrected_address(customer, staff_user, place_order,
                                                                       django_capture_on_commit_callbacks):
    order = undeliverable(place_order(customer, {"prod-004": 1}, zip="00000"), staff_user)
    html = page_of(customer, order)
    assert offered(html) == ["correct_address"] and "No charge was made." in html
    client = web(customer)
    assert f'action="{reverse("orders:order_try_again", args=[order.pk])}"' in html

    checkout = client.post(reverse("orders:order_try_again", args=[order.pk]), follow=True)

    said = " ".join(str(message) for message in checkout.context["messages"])
    assert f"Order {order.number}: No charge was made." in said and "correct the address to place it again" in said
    assert "another card" not in said
    form = checkout.context["form"]
    assert form["zip"].value() == "00000"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("orders:checkout"), checkout_fields(
            client, {**{name: form[name].value() for name in ("address", "city", "state")}, "zip": "62701"},
            card_number="4242 4242 4242 4242"))
    again = Order.objects.get(retry_of=order)
    assert again.ship_zip == "62701" and again.total == Decimal("89.99")
    assert f"You placed this order again as order {again.number}." in page_of(customer, order)
    assert offered(page_of(customer, order)) == []
