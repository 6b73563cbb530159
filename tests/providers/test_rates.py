"""The rate card's arithmetic: which zone an address ships to, and base + per started kilogram."""
from decimal import Decimal

import pytest

from providers.models import ShippingDestination, ShippingRate, ShippingZone
from providers.rates import billable_kilograms, rate_card_quotes, zone_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def card():
    """A small rate card of its own: a state, a short and a long ZIP prefix inside it, a fallback."""
    ShippingZone.objects.all().delete()
    state = ShippingZone.objects.create(name="New York State")
    city = ShippingZone.objects.create(name="Manhattan")
    borough = ShippingZone.objects.create(name="Lower Manhattan")
    fallback = ShippingZone.objects.create(name="Everywhere else", is_fallback=True)
    ShippingDestination.objects.create(zone=state, state="NY")
    ShippingDestination.objects.create(zone=city, zip_prefix="100")
    ShippingDestination.objects.create(zone=borough, zip_prefix="10004")
    for zone, base, per_kg in ((state, "6.00", "1.00"), (city, "5.00", "0.50"), (borough, "4.00", "0.25"),
                               (fallback, "9.00", "2.00")):
        ShippingRate.objects.create(zone=zone, service="standard", base_cost=Decimal(base),
                                    cost_per_kg=Decimal(per_kg), days_min=2, days_max=4)
        ShippingRate.objects.create(zone=zone, service="express", base_cost=Decimal(base) * 2,
                                    cost_per_kg=Decimal(per_kg) * 2, days_min=1, days_max=2)
    return {"state": state, "city": city, "borough": borough, "fallback": fallback}


def test_the_longest_matching_zip_prefix_wins_over_a_shorter_one_and_over_the_state(card):
    assert zone_for(state="NY", zip_code="10004") == card["borough"]
    assert zone_for(state="NY", zip_code="10001") == card["city"]
    assert zone_for(state="ny", zip_code="12207") == card["state"]  # Albany: the state, any case


def test_an_address_no_zone_names_ships_at_the_fallback_zone_and_without_one_gets_no_quote(card):
    assert zone_for(state="CA", zip_code="94103") == card["fallback"]

    ShippingZone.objects.filter(pk=card["fallback"].pk).delete()

    assert zone_for(state="CA", zip_code="94103") is None
    assert rate_card_quotes(state="CA", zip_code="94103", weight_grams=500) == ()


@pytest.mark.parametrize(("grams", "kilograms"), [(1, 1), (1000, 1), (1001, 2), (2400, 3), (30_000, 30)])
def test_every_started_kilogram_is_billed(grams, kilograms):
    assert billable_kilograms(grams) == kilograms


def test_a_service_costs_its_base_plus_its_cost_per_started_kilogram(card):
    quotes = rate_card_quotes(state="NY", zip_code="12207", weight_grams=2400)

    assert [(q.service, q.price, q.days_min, q.days_max, q.zone) for q in quotes] == [
        ("standard", Decimal("9.00"), 2, 4, "New York State"),  # 6.00 + 3 × 1.00
        ("express", Decimal("18.00"), 1, 2, "New York State"),  # 12.00 + 3 × 2.00
    ]
    nearby = rate_card_quotes(state="NY", zip_code="10004", weight_grams=400)
    assert nearby[0].price == Decimal("4.25")  # 4.00 + 1 × 0.25: light and near costs less
