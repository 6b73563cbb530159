"""The carrier's rate card: which zone an address ships to, and what each service costs there for
a parcel's weight. The simulated carrier quotes from it (`ShippingGateway.rates`), and the shop
prices standard shipping from it when the carrier cannot quote.

A zone (providers.models.ShippingZone) names states and ZIP prefixes; an address belongs to the
zone of its longest matching ZIP prefix, else of its state, else to the fallback zone. A rate
costs `base_cost` plus `cost_per_kg` for every started kilogram (carriers bill whole kilograms,
rounded up, as UPS and FedEx do by the pound).
"""
import json
import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Length

from providers.models import ShippingDestination, ShippingRate, ShippingService, ShippingZone

RATE_CARD_FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "shipping.json"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class RateQuote:
    """One service's price to an address for a parcel: `price` in dollars (2 places),
    delivered in `days_min` to `days_max` business days; `zone` the rate card's zone name."""

    service: str
    price: Decimal
    days_min: int
    days_max: int
    zone: str


def billable_kilograms(weight_grams: int) -> int:
    """Whole kilograms a parcel of `weight_grams` is billed for: every started one, at least 1."""
    return max(1, math.ceil(weight_grams / 1000))


def zone_for(*, state: str, zip_code: str) -> ShippingZone | None:
    """The zone an address ships to: its longest matching ZIP prefix's, else its state's (two
    letters, any case), else the fallback zone; None when the rate card has none of these."""
    zip_code, state = zip_code.strip(), state.strip().upper()
    prefixes = [zip_code[:n] for n in range(1, min(len(zip_code), 5) + 1)]
    named = Q(zip_prefix__in=prefixes) | (Q(state=state) if state else Q(pk__in=()))
    # A state's row has no prefix (length 0): any matching prefix sorts before it.
    destination = ShippingDestination.objects.select_related("zone").filter(named).order_by(
        Length("zip_prefix").desc()).first()
    if destination is not None:
        return destination.zone
    return ShippingZone.objects.filter(is_fallback=True).first()


def rate_card_quotes(*, state: str, zip_code: str, weight_grams: int) -> tuple[RateQuote, ...]:
    """Each service's price to the address's zone for a parcel of `weight_grams` (grams), in the
    order of providers.models.ShippingService; () when no zone takes the address."""
    zone = zone_for(state=state, zip_code=zip_code)
    if zone is None:
        return ()
    kilograms = billable_kilograms(weight_grams)
    rates = {rate.service: rate for rate in ShippingRate.objects.filter(zone=zone)}
    return tuple(
        RateQuote(service=service, price=(rate.base_cost + rate.cost_per_kg * kilograms).quantize(CENT),
                  days_min=rate.days_min, days_max=rate.days_max, zone=zone.name)
        for service in ShippingService.values if (rate := rates.get(service)) is not None
    )


def fallback_refusal(zones) -> str:
    """Why `zones` (ShippingZone rows) may not be deleted or lose their fallback ("" when they
    may): the fallback zone prices every address no other zone names, so without it those
    addresses would have no shipping price. Another zone takes the fallback over instead
    (`fallback_take`)."""
    fallback = next((zone for zone in zones if zone.is_fallback), None)
    if fallback is None:
        return ""
    return (f"“{fallback.name}” is the fallback zone: it prices every address no other zone names, so the shop "
            "always needs one. To move it, tick “fallback” on another zone (it takes over from this one).")


def fallback_take(zone: ShippingZone) -> None:
    """Make `zone` (saved next) the fallback: any other fallback zone gives it up, so that there is
    always exactly one (the database allows at most one)."""
    ShippingZone.objects.filter(is_fallback=True).exclude(pk=zone.pk).update(is_fallback=False)


def rate_card_seed(*, path: Path = RATE_CARD_FIXTURE, zone_model=ShippingZone, destination_model=ShippingDestination,
                   rate_model=ShippingRate) -> int:
    """Create the zones of the rate card fixture (fixtures/shipping.json) missing by name, with
    their destinations and rates; a destination another zone already names is left to it.
    Returns how many zones it created. (The models may be a migration's historical ones.)"""
    card = json.loads(Path(path).read_text())
    created = 0
    for entry in card["zones"]:
        if zone_model.objects.filter(name=entry["name"]).exists():
            continue
        fallback = entry.get("fallback", False) and not zone_model.objects.filter(is_fallback=True).exists()
        zone = zone_model.objects.create(name=entry["name"], is_fallback=fallback)
        taken_states = set(destination_model.objects.exclude(state="").values_list("state", flat=True))
        taken_prefixes = set(destination_model.objects.exclude(zip_prefix="").values_list("zip_prefix", flat=True))
        destination_model.objects.bulk_create(
            [destination_model(zone=zone, state=state) for state in entry.get("states", ())
             if state not in taken_states]
            + [destination_model(zone=zone, zip_prefix=prefix) for prefix in entry.get("zip_prefixes", ())
               if prefix not in taken_prefixes]
        )
        rate_model.objects.bulk_create(
            rate_model(zone=zone, service=service, base_cost=Decimal(rate["base_cost"]),
                       cost_per_kg=Decimal(rate["cost_per_kg"]), days_min=rate["days_min"], days_max=rate["days_max"])
            for service, rate in entry["rates"].items()
        )
        created += 1
    return created
