"""Shipping's price: the options a customer chooses among, and placing an order with one."""
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core import signing
from django.core.management import call_command
from django.utils import timezone

from catalog.models import Product
from orders.models import Order
from orders.services import LineRequest, PriceChanged, order_place
from orders.shipping import (
    QUOTE_SALT,
    ShippingAddress,
    ShippingChanged,
    ShippingUnavailable,
    business_days_after,
    shipping_options,
)
from providers.models import GatewayCall, ShippingRate, SimulatedOutage
from store.errors import Unprocessable, ValidationFailed
from tests.conftest import CARD_APPROVE, SHIPPING

NEAR = ShippingAddress(address="350 5th Ave", city="New York", state="NY", zip="10118")  # New York City
FAR = ShippingAddress(address="1 Harbor Way", city="Anchorage", state="AK", zip="99501")  # Alaska
SPRINGFIELD = ShippingAddress(**SHIPPING)  # the fallback zone (contiguous United States)


pytestmark = pytest.mark.usefixtures("shop_free_shipping_threshold", "outages_forgotten")


@pytest.fixture
def weights(catalog):
    """prod-008 ($9.99) a light 400 g, prod-006 ($24.99) a heavy 12 kg."""
    Product.objects.filter(public_id="prod-008").update(weight_grams=400)
    Product.objects.filter(public_id="prod-006").update(weight_grams=12000)


def option(options, service):
    return next(option for option in options.options if option.service == service)


def place(user, items, *, shipping=SPRINGFIELD, rate=None, **extra):
    return order_place(user=user, lines=[LineRequest(pid, quantity) for pid, quantity in items.items()],
                       shipping=shipping, card_number=CARD_APPROVE, shipping_rate=rate, **extra).order


def outage_of_rates():
    call_command("provider_outage", "rates", "--seconds", "60", "--mode", "error", stdout=StringIO())


# --- the options --------------------------------------------------------------------------

def test_a_heavy_order_far_away_costs_more_to_ship_than_a_light_one_nearby(weights):
    light_near = option(shipping_options(shipping=NEAR, lines={"prod-008": 1}), "standard")
    heavy_far = option(shipping_options(shipping=FAR, lines={"prod-006": 1}), "standard")
    # The rate card: New York City 4.99 + 0.50 per started kg; Alaska 19.99 + 4.00 per started kg.
    assert light_near.price == Decimal("5.49")
    assert heavy_far.price == Decimal("67.99")


def test_express_costs_more_and_arrives_sooner_than_standard(weights):
    options = shipping_options(shipping=SPRINGFIELD, lines={"prod-008": 2})
    assert [(o.service, o.label, o.available) for o in options.options] == [
        ("standard", "Standard", True), ("express", "Express", True)]
    standard, express = options.options
    assert (standard.price, express.price) == (Decimal("10.49"), Decimal("28.49"))
    assert express.latest < standard.latest
    today = timezone.localdate()
    assert (standard.earliest, standard.latest) == (business_days_after(today, 3), business_days_after(today, 6))
    assert not options.degraded and options.message == ""
    assert all(o.id for o in options.options)


def test_standard_ships_free_from_the_threshold_on_and_express_does_not(weights):
    below = shipping_options(shipping=SPRINGFIELD, lines={"prod-008": 10})  # $99.90
    at = shipping_options(shipping=SPRINGFIELD, lines={"prod-008": 5, "prod-003": 1})  # $129.94
    assert option(below, "standard").price == Decimal("14.99")
    assert (option(at, "standard").price, option(at, "standard").list_price) == (Decimal("0.00"), Decimal("13.49"))
    assert option(at, "standard").note == "Free on orders of $100.00 or more"
    assert option(at, "express").price == option(at, "express").list_price > 0


def test_an_empty_threshold_never_ships_free(weights, settings):
    settings.FREE_SHIPPING_THRESHOLD = ""
    standard = option(shipping_options(shipping=SPRINGFIELD, lines={"prod-001": 3}), "standard")
    assert standard.price == standard.list_price > 0 and standard.note == ""


def test_business_days_skip_the_weekend():
    friday = timezone.datetime(2026, 12, 4).date()
    assert business_days_after(friday, 1) == friday + timedelta(days=3)
    assert business_days_after(friday, 5) == friday + timedelta(days=7)


def test_an_address_no_zone_takes_is_refused(weights):
    ShippingRate.objects.filter(zone__is_fallback=True).delete()
    with pytest.raises(ValidationFailed) as refused:
        shipping_options(shipping=SPRINGFIELD, lines={"prod-008": 1})
    assert "shipping" in refused.value.fields


def test_when_the_carrier_cannot_quote_standard_comes_from_the_rate_card_and_express_is_unavailable(weights):
    outage_of_rates()
    options = shipping_options(shipping=SPRINGFIELD, lines={"prod-008": 2})
    standard, express = options.options
    assert options.degraded and "express shipping is unavailable" in options.message
    assert (standard.available, standard.price, bool(standard.id)) == (True, Decimal("10.49"), True)
    assert (express.available, express.id, express.price, express.note) == (False, "", Decimal("0.00"),
                                                                            "Unavailable for now")


def test_quotes_are_not_recorded(weights):
    shipping_options(shipping=SPRINGFIELD, lines={"prod-008": 1})
    assert not GatewayCall.objects.exists()


# --- placing an order with one -------------------------------------------------------------

def test_the_chosen_option_is_what_the_order_costs(weights, customer):
    express = option(shipping_options(shipping=FAR, lines={"prod-008": 2}), "express")
    order = place(customer, {"prod-008": 2}, shipping=FAR, rate=express.id)
    assert (order.subtotal, order.shipping_service, order.shipping_cost) == (Decimal("19.98"), "express",
                                                                              Decimal("52.99"))
    assert order.total == Decimal("72.97")
    assert (order.delivery_earliest, order.delivery_latest) == (express.earliest, express.latest)


def test_without_a_rate_the_order_ships_standard_at_the_rate_cards_price_without_asking_the_carrier(weights,
                                                                                                   customer):
    outage_of_rates()  # the carrier is not asked: its outage changes nothing
    order = place(customer, {"prod-006": 1}, shipping=FAR)
    assert (order.shipping_service, order.shipping_cost, order.total) == ("standard", Decimal("67.99"),
                                                                          Decimal("92.98"))
    assert order.delivery_earliest and order.delivery_latest


def test_the_expected_total_counts_the_shipping(weights, customer):
    with pytest.raises(PriceChanged, match=r"The total is now \$20\.48 \(items \$9\.99 \+ shipping \$10\.49; was \$9\.99\)"):
        place(customer, {"prod-008": 1}, expected_total=Decimal("9.99"))
    assert place(customer, {"prod-008": 1}, expected_total=Decimal("20.48")).total == Decimal("20.48")


def test_a_rate_changed_before_submit_places_nothing_and_says_so(weights, customer):
    standard = option(shipping_options(shipping=SPRINGFIELD, lines={"prod-008": 1}), "standard")
    ShippingRate.objects.filter(zone__is_fallback=True, service="standard").update(base_cost=Decimal("9.99"))
    with pytest.raises(ShippingChanged, match=r"Standard shipping now costs \$11\.49 \(was \$10\.49\)\.") as changed:
        place(customer, {"prod-008": 1}, rate=standard.id)
    assert changed.value.code == "shipping_changed"
    assert not Order.objects.exists()


@pytest.mark.parametrize(("change", "said"), [
    ("address", "address changed"),
    ("cart", "cart changed"),
    ("tampered", "not one this shop quoted"),
    ("expired", "expired"),
])
def test_a_quote_that_no_longer_holds_is_refused(weights, customer, settings, change, said):
    if change == "expired":
        settings.SHIPPING_QUOTE_MAX_AGE = 0
    express = option(shipping_options(shipping=SPRINGFIELD, lines={"prod-008": 1}), "express")
    rate, shipping, items = express.id, SPRINGFIELD, {"prod-008": 1}
    if change == "address":
        shipping = FAR
    elif change == "cart":
        items = {"prod-008": 2}
    elif change == "tampered":
        payload = signing.loads(rate, salt=QUOTE_SALT)
        rate = signing.dumps({**payload, "p": "0.01"}, salt="another-salt", compress=True)
    with pytest.raises(ShippingChanged, match=said):
        place(customer, items, shipping=shipping, rate=rate)
    assert not Order.objects.exists()


def test_the_same_address_written_differently_keeps_the_quote(weights, customer):
    standard = option(shipping_options(shipping=NEAR, lines={"prod-008": 1}), "standard")
    shouted = ShippingAddress(address="350  5TH AVE ", city="new york", state="ny", zip="10118")
    assert place(customer, {"prod-008": 1}, shipping=shouted, rate=standard.id).shipping_cost == Decimal("5.49")


def test_in_a_carrier_outage_standard_is_placed_at_the_rate_card_price_and_express_cannot_be(weights, customer):
    options = shipping_options(shipping=SPRINGFIELD, lines={"prod-008": 1})
    outage_of_rates()
    with pytest.raises(ShippingUnavailable, match="Express shipping is unavailable for now"):
        place(customer, {"prod-008": 1}, rate=option(options, "express").id)
    order = place(customer, {"prod-008": 1}, rate=option(options, "standard").id)
    assert (order.shipping_service, order.shipping_cost) == ("standard", Decimal("10.49"))
    assert SimulatedOutage.objects.filter(provider="rates").exists()


def test_a_replay_with_another_service_is_another_request(weights, customer):
    options = shipping_options(shipping=SPRINGFIELD, lines={"prod-008": 1})
    first = place(customer, {"prod-008": 1}, rate=option(options, "standard").id, idempotency_key="k-1")
    assert place(customer, {"prod-008": 1}, idempotency_key="k-1").pk == first.pk  # standard, by default
    with pytest.raises(Unprocessable, match="already used with a different request"):
        place(customer, {"prod-008": 1}, rate=option(options, "express").id, idempotency_key="k-1")


def test_the_charge_is_the_total(sync_pipeline, weights, customer):
    express = option(shipping_options(shipping=SPRINGFIELD, lines={"prod-008": 1}), "express")
    order = place(customer, {"prod-008": 1}, rate=express.id)
    charge = GatewayCall.objects.get(gateway="payment", operation="charge", order_id=order.pk)
    assert Decimal(charge.result["data"]["amount"]) == order.total == Decimal("9.99") + Decimal("28.49")
