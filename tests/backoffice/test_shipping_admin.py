"""The rate card in the admin: shipping zones with their destinations and rates, each refusal
a sentence saying what to fix, and nothing saved when one is refused."""
from decimal import Decimal

import pytest

from providers.models import ShippingDestination, ShippingRate, ShippingZone

ZONES = "/admin/providers/shippingzone/"


def zone_form(name: str = "Midwest", *, fallback: bool = False, destinations=(("IL", ""),), rates=None,
              zone: ShippingZone | None = None) -> dict:
    """What the zone page posts: its fields, the destinations (state, ZIP prefix) and the rates; for
    an existing `zone`, its saved rows come first, as the page shows them."""
    rates = rates if rates is not None else [("standard", "7.99", "1.10", "2", "4"), ("express", "15.99", "2.20", "1", "2")]
    data = {"name": name, "destinations-TOTAL_FORMS": str(len(destinations)), "destinations-INITIAL_FORMS": "0",
            "rates-TOTAL_FORMS": str(len(rates)), "rates-INITIAL_FORMS": "0"}
    if fallback:
        data["is_fallback"] = "on"
    saved = list(zone.destinations.all()) if zone else []
    data["destinations-INITIAL_FORMS"] = str(len(saved))
    for i, (state, prefix) in enumerate(destinations):
        data.update({f"destinations-{i}-state": state, f"destinations-{i}-zip_prefix": prefix})
        if i < len(saved):
            data.update({f"destinations-{i}-id": str(saved[i].pk), f"destinations-{i}-zone": str(zone.pk)})
    for i, (service, base, per_kg, fewest, most) in enumerate(rates):
        data.update({f"rates-{i}-service": service, f"rates-{i}-base_cost": base, f"rates-{i}-cost_per_kg": per_kg,
                     f"rates-{i}-days_min": fewest, f"rates-{i}-days_max": most})
    return data


def _with_saved_rates(data: dict, zone: ShippingZone, *, standard_base: str | None = None) -> dict:
    """The zone page's rate rows as saved (standard's base cost changed to `standard_base`)."""
    rates = list(zone.rates.all())
    data.update({"rates-TOTAL_FORMS": str(len(rates)), "rates-INITIAL_FORMS": str(len(rates))})
    for i, rate in enumerate(rates):
        base = standard_base if standard_base and rate.service == "standard" else str(rate.base_cost)
        data.update({f"rates-{i}-id": str(rate.pk), f"rates-{i}-zone": str(zone.pk), f"rates-{i}-service": rate.service,
                     f"rates-{i}-base_cost": base, f"rates-{i}-cost_per_kg": str(rate.cost_per_kg),
                     f"rates-{i}-days_min": str(rate.days_min), f"rates-{i}-days_max": str(rate.days_max)})
    return data


def errors_of(response) -> list[str]:
    """Every error the page shows: the zone's fields', each inline row's and each inline's own."""
    assert response.status_code == 200, "refused: the page comes back"
    errors = [str(e) for field in response.context["adminform"].form.errors.values() for e in field]
    for inline in response.context["inline_admin_formsets"]:
        errors += [str(e) for form_errors in inline.formset.errors for field in form_errors.values()
                   for e in field]
        errors += [str(e) for e in inline.formset.non_form_errors()]
    return errors


@pytest.fixture
def owner(client, make_user):
    client.force_login(make_user("owner@example.com", is_staff=True, is_superuser=True))
    return client


def test_the_zone_list_shows_each_zones_destinations_and_prices(owner):
    html = owner.get(ZONES).content.decode()

    assert "Northeast" in html and "States: CT, DC, DE, MA, MD, ME, NH, NJ, NY, PA, RI, VT" in html
    assert "ZIP: 100, 101" in html and "every other address" in html
    assert "$6.99 + $0.90/kg" in html and "$14.99 + $2.00/kg" in html  # Northeast: standard, express
    assert [z.name for z in owner.get(ZONES, {"q": "VT"}).context["cl"].result_list] == ["Northeast"]


def test_staff_add_a_zone_with_its_destinations_and_rates(owner):
    response = owner.post(f"{ZONES}add/", zone_form(destinations=[("il", ""), ("", "606")]))

    assert response.status_code == 302
    zone = ShippingZone.objects.get(name="Midwest")
    assert sorted((d.state, d.zip_prefix) for d in zone.destinations.all()) == [("", "606"), ("IL", "")]
    assert ShippingRate.objects.get(zone=zone, service="standard").base_cost == Decimal("7.99")


@pytest.mark.parametrize(("destinations", "rates", "message"), [
    ([("Illinois", "")], None, "“Illinois” is not a state: enter its two-letter code, e.g. NY."),
    ([("I1", "")], None, "“I1” is not a state: enter its two-letter code, e.g. NY."),
    ([("ß", "")], None, "“ß” is not a state: enter its two-letter code, e.g. NY."),
    ([("", "6060a")], None, "“6060a” is not a ZIP prefix: enter 1 to 5 digits, e.g. 100."),
    ([("", "606061")], None, "“606061” is not a ZIP prefix: enter 1 to 5 digits, e.g. 100."),
    ([("", "٦٠٦")], None, "“٦٠٦” is not a ZIP prefix: enter 1 to 5 digits, e.g. 100."),
    ([("IL", "606")], None, "Enter a state or a ZIP prefix, not both: each destination names one."),
    ([("NY", "")], None, "NY is in the zone “Northeast”: remove it there first."),
    ([("", "100")], None, "ZIP prefix 100 is in the zone “New York City”: remove it there first."),
    ([("IL", "")], [("standard", "-1.00", "1.00", "2", "4")], "Enter an amount in dollars of zero or more, e.g. 4.99."),
    ([("IL", "")], [("standard", "1.00", "abc", "2", "4")], "Enter an amount in dollars of zero or more, e.g. 4.99."),
    ([("IL", "")], [("standard", "1.00", "1.00", "0", "4")], "Enter a whole number of business days, 1 or more."),
    ([("IL", "")], [("standard", "1.00", "1.00", "5", "3")], "The most days (3) cannot be fewer than the fewest (5)."),
    ([("IL", "")], [("standard", "1.00", "1.00", "2", "3"), ("standard", "2.00", "1.00", "2", "3")],
     "A zone has one rate per service: Standard is given twice."),
])
def test_a_zone_the_rate_card_cannot_take_is_refused_saying_why(owner, destinations, rates, message):
    response = owner.post(f"{ZONES}add/", zone_form(destinations=destinations, rates=rates))

    assert message in errors_of(response)
    assert not ShippingZone.objects.filter(name="Midwest").exists()


def test_a_destination_emptied_of_both_its_state_and_prefix_is_refused(owner):
    zone = ShippingZone.objects.get(name="Northeast")
    destinations = [(d.state, "") for d in zone.destinations.all()]
    destinations[0] = ("", "")

    response = owner.post(f"{ZONES}{zone.pk}/change/", _with_saved_rates(
        zone_form("Northeast", destinations=destinations, rates=[], zone=zone), zone))

    assert "Enter a state or a ZIP prefix." in errors_of(response)
    assert zone.destinations.count() == len(destinations)


def test_a_zone_ticked_fallback_takes_it_over(owner):
    response = owner.post(f"{ZONES}add/", zone_form(fallback=True, destinations=[("", "5")]))
    assert response.status_code == 302, errors_of(response)

    assert list(ShippingZone.objects.filter(is_fallback=True).values_list("name", flat=True)) == ["Midwest"]


FALLBACK_KEPT = "“Contiguous United States” is the fallback zone: it prices every address no other zone names"


def test_the_fallback_zone_is_neither_deleted_nor_unticked(owner):
    fallback = ShippingZone.objects.get(is_fallback=True)

    page = owner.post(f"{ZONES}{fallback.pk}/delete/", {"post": "yes"}, follow=True)
    listed = owner.post(ZONES, {"action": "delete_selected", "_selected_action": [fallback.pk], "post": "yes"},
                        follow=True)
    unticked = owner.post(f"{ZONES}{fallback.pk}/change/", _with_saved_rates(
        zone_form(fallback.name, destinations=[], rates=[]), fallback))

    assert FALLBACK_KEPT in page.content.decode()
    assert FALLBACK_KEPT in listed.content.decode()
    assert any(FALLBACK_KEPT in error for error in errors_of(unticked))
    assert ShippingZone.objects.get(pk=fallback.pk).is_fallback


@pytest.mark.parametrize(("destinations", "rates", "message"), [
    ([("IA", ""), ("ia", "")], None, "IA is given twice: a zone names each destination once."),
    ([("", "606"), ("", "606")], None, "ZIP prefix 606 is given twice: a zone names each destination once."),
    ([("IA", "")], [], "Every zone needs a standard rate (express is optional): add one."),
    ([("IA", "")], [("express", "9.00", "1.00", "1", "2")], "Every zone needs a standard rate (express is optional): add one."),
    ([("IA", "")], [("standard", "10000.01", "1.00", "1", "2")], "Enter at most $10,000.00."),
    ([("IA", "")], [("standard", "1.00", "1000.01", "1", "2")], "Enter at most $1,000.00."),
])
def test_a_submit_that_would_leave_a_rate_card_broken_is_refused(owner, destinations, rates, message):
    response = owner.post(f"{ZONES}add/", zone_form("Iowa", destinations=destinations, rates=rates))

    assert message in errors_of(response)
    assert not ShippingZone.objects.filter(name="Iowa").exists()


def test_staff_edit_a_zones_rate_and_a_state_is_kept_upper_case(owner):
    zone = ShippingZone.objects.get(name="Northeast")
    data = _with_saved_rates(zone_form("Northeast", destinations=[(d.state.lower(), "") for d in zone.destinations.all()],
                                       rates=[], zone=zone), zone, standard_base="5.49")

    response = owner.post(f"{ZONES}{zone.pk}/change/", data)

    assert response.status_code == 302
    assert ShippingRate.objects.get(zone=zone, service="standard").base_cost == Decimal("5.49")
    assert ShippingDestination.objects.get(state="NY").zone == zone


def test_shop_staff_read_the_rate_card_but_may_not_change_it(client, shop_staff):
    client.force_login(shop_staff)
    zone = ShippingZone.objects.get(name="Northeast")

    assert client.get(ZONES).status_code == 200
    assert client.get(f"{ZONES}{zone.pk}/change/").status_code == 200  # read-only
    assert client.post(f"{ZONES}add/", zone_form()).status_code == 403
    assert client.post(f"{ZONES}{zone.pk}/delete/", {"post": "yes"}).status_code == 403
    assert ShippingZone.objects.filter(pk=zone.pk).exists() and not ShippingZone.objects.filter(name="Midwest").exists()


def test_staff_without_the_rate_cards_permissions_get_403(client, make_user):
    client.force_login(make_user("bare@example.com", is_staff=True))

    assert client.get(ZONES).status_code == 403
    assert client.post(f"{ZONES}add/", zone_form()).status_code == 403
    assert not ShippingZone.objects.filter(name="Midwest").exists()
