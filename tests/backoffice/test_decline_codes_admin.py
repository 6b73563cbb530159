"""Staff read the bank's decline code where they read the failure: the order page and Needs attention."""
import pytest
from django.test import Client
from django.urls import reverse

from backoffice.selectors.customers import customer_summary
from orders.models import Order
from orders.services import order_transition
from tests.backoffice.test_needs_attention import ATTENTION, section_of

pytestmark = pytest.mark.django_db

ADVICE = "Your bank declined this card. Use another card or contact your bank."


def hard_declined(order_in) -> Order:
    """An order the bank declined as a stolen card: the pipeline ended it after its one charge."""
    order = order_in("paying")
    return order_transition(order_id=order.pk, name="payment_declined_hard", reason=ADVICE,
                            decline_code="stolen_card")


def test_the_order_page_shows_the_code_and_whether_it_is_retried(clerk_client, order_in):
    hard = hard_declined(order_in)
    soft = order_transition(order_id=order_in("paying").pk, name="payment_declined",
                            reason="Your bank declined the payment for lack of funds.", decline_code="insufficient_funds")

    page = clerk_client.get(f"/admin/orders/order/{hard.pk}/change/").content.decode()
    assert '<code data-testid="decline-code">stolen_card</code> (hard: never retried)' in page
    assert ADVICE in page  # what the customer was told, beside it
    page = clerk_client.get(f"/admin/orders/order/{soft.pk}/change/").content.decode()
    assert ('<code data-testid="decline-code">insufficient_funds</code> (soft: retried as its workflow version '
            'says)') in page


def test_an_order_never_declined_shows_no_code(clerk_client, order_in):
    order = order_in("paid")
    page = clerk_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert 'data-testid="decline-code"' not in page


def test_needs_attention_lists_a_hard_decline_with_its_code(clerk_client, order_in):
    order = hard_declined(order_in)

    listed = section_of(clerk_client, "ended")
    assert order.number in listed
    assert ADVICE in listed and 'decline code <code data-testid="decline-code">stolen_card</code>' in listed
    assert "No charge was made." in listed
    assert clerk_client.get(ATTENTION).status_code == 200


def test_the_customer_page_counts_a_hard_decline_among_the_declined_payments(order_in, customer):
    order = hard_declined(order_in)

    assert [(d.order.pk, d.declines, d.reason) for d in customer_summary(customer=customer).declined] == [
        (order.pk, 1, ADVICE)]


def soft_declined(order_in) -> Order:
    """An order the bank declined for lack of funds, waiting for the pipeline's retry."""
    return order_transition(order_id=order_in("paying").pk, name="payment_declined",
                            reason="Your bank declined the payment for lack of funds.", decline_code="insufficient_funds")


def test_a_soft_decline_given_up_on_reads_so_once_the_order_ended(clerk_client, order_in):
    order = order_transition(order_id=soft_declined(order_in).pk, name="abandon_payment")

    page = clerk_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert '<code data-testid="decline-code">insufficient_funds</code> (soft: retried, then given up)' in page
    assert "retried as its workflow version says" not in page


def test_an_order_the_customer_cancels_after_a_soft_decline_keeps_no_code(clerk_client, order_in, customer):
    order = soft_declined(order_in)
    owner = Client()
    owner.force_login(customer)

    response = owner.post(reverse("orders:order_cancel", args=[order.pk]), follow=True)

    assert response.status_code == 200 and Order.objects.get(pk=order.pk).state == "cancelled"
    page = clerk_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert 'data-testid="decline-code"' not in page
    # The decline stays in the order's history, for staff.
    assert Order.objects.get(pk=order.pk).events.get(transition="payment_declined").detail["decline_code"] == (
        "insufficient_funds")
