"""An address the carrier does not deliver to, as the customer meets it: the order page says
nothing was charged and asks for a corrected address, "Try again" fills the checkout with the
old address to correct, and the corrected order is delivered."""
from django.test import Client
from django.urls import reverse

from orders.models import Order
from providers.models import GatewayCall
from storefront.selectors.checkout import CHECKOUT_PREFILL
from tests.conftest import CARD_APPROVE, SHIPPING
from tests.storefront.checkout_forms import checkout_fields


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_customer_corrects_an_undeliverable_address_and_the_new_order_is_delivered(
        sync_pipeline, customer, place_order):
    failed = Order.objects.get(pk=place_order(customer, {"prod-004": 1}, card=CARD_APPROVE, zip="00000").pk)
    assert failed.state == "failed"
    client = web(customer)

    page = client.get(reverse("orders:order_detail", args=[failed.pk])).content.decode()
    assert "Undeliverable address (ZIP 00000)" in page
    assert "please correct the address" not in page  # the next step says it, once
    assert "No charge was made." in page
    assert f'action="{reverse("orders:order_try_again", args=[failed.pk])}"' in page

    checkout = client.post(reverse("orders:order_try_again", args=[failed.pk]), follow=True)
    assert checkout.redirect_chain[-1][0] == reverse("orders:checkout")
    assert client.session[CHECKOUT_PREFILL] == {**{name: SHIPPING[name] for name in ("address", "city", "state")},
                                                "zip": "00000"}
    form = checkout.context["form"]
    assert {name: form[name].value() for name in ("address", "city", "state", "zip")} == {
        "address": "1 Market Street", "city": "Springfield", "state": "IL", "zip": "00000"}
    told = [str(message) for message in checkout.context["messages"]]
    assert f"Order {failed.number}: No charge was made. Its items are back in your cart, and its address is filled " \
           "in below; correct the address to place it again." in told
    assert not any("another card" in text for text in told)

    placed = client.post(reverse("orders:checkout"), checkout_fields(
        client, {**{name: form[name].value() for name in ("address", "city", "state")}, "zip": "62704"},
        card_number=CARD_APPROVE))

    corrected = Order.objects.exclude(pk=failed.pk).get()
    assert placed["Location"] == reverse("orders:order_detail", args=[corrected.pk])
    assert (corrected.state, corrected.ship_zip, corrected.retry_of) == ("delivered", "62704", failed)
    assert GatewayCall.objects.filter(order_id=corrected.pk, gateway="payment", operation="charge").count() == 1
    assert not GatewayCall.objects.filter(order_id=failed.pk, gateway="payment").exists()
