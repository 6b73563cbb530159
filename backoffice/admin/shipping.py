"""The carrier's rate card in the admin: shipping zones, each with its destinations (states and ZIP
prefixes) and one rate per service, edited on the zone's page (providers.rates reads them).

Seeing the rate card needs SHIPPING_VIEW, adding, changing and deleting zones (their destinations
and rates with them) SHIPPING_CHANGE (store.permissions). The forms refuse what the database's
constraints would refuse, with a sentence naming the fix: a state in two letters, a ZIP prefix
in 1 to 5 digits, one of the two per destination, a destination no other zone names, one
fallback zone, one rate per service, costs of zero or more and days in order.
"""
import re

from django import forms
from django.contrib import admin
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest

from backoffice.admin.base import BoundedChangeListMixin
from providers.models import ShippingDestination, ShippingRate, ShippingService, ShippingZone
from store import permissions
from store.money import money
from store.numbers import AsciiDecimalFormField, AsciiIntegerFormField

STATE = re.compile(r"[A-Za-z]{2}\Z", re.ASCII)
ZIP_PREFIX = re.compile(r"[0-9]{1,5}\Z", re.ASCII)
COST_MESSAGE = "Enter an amount in dollars of zero or more, e.g. 4.99."
DAYS_MESSAGE = "Enter a whole number of business days, 1 or more."


class RateCardPermissionMixin:
    """Every page and table of the rate card asks the same two actions."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return permissions.can_any(request.user, permissions.SHIPPING_VIEW, permissions.SHIPPING_CHANGE)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return permissions.can_any(request.user, permissions.SHIPPING_VIEW, permissions.SHIPPING_CHANGE)

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return permissions.can(request.user, permissions.SHIPPING_CHANGE)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return permissions.can(request.user, permissions.SHIPPING_CHANGE)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return permissions.can(request.user, permissions.SHIPPING_CHANGE)


class ZoneForm(forms.ModelForm):
    class Meta:
        model = ShippingZone
        fields = ("name", "is_fallback")

    def clean_is_fallback(self) -> bool:
        fallback = self.cleaned_data["is_fallback"]
        other = ShippingZone.objects.filter(is_fallback=True).exclude(pk=self.instance.pk).first() if fallback else None
        if other is not None:
            raise forms.ValidationError(
                f"Only one zone is the fallback, and “{other.name}” is: untick it there first.")
        return fallback


class DestinationForm(forms.ModelForm):
    # No max_length here: the checks below refuse a longer value with the sentence of a wrong one.
    state = forms.CharField(required=False, help_text=ShippingDestination._meta.get_field("state").help_text,
                            widget=forms.TextInput(attrs={"size": 4}))
    zip_prefix = forms.CharField(label="ZIP prefix", required=False,
                                 help_text=ShippingDestination._meta.get_field("zip_prefix").help_text,
                                 widget=forms.TextInput(attrs={"size": 6}))

    class Meta:
        model = ShippingDestination
        fields = ("state", "zip_prefix")

    def clean_state(self) -> str:
        state = self.cleaned_data["state"].strip()
        if state and not STATE.match(state):
            raise forms.ValidationError(f"“{state}” is not a state: enter its two-letter code, e.g. NY.")
        return state.upper()

    def clean_zip_prefix(self) -> str:
        prefix = self.cleaned_data["zip_prefix"].strip()
        if prefix and not ZIP_PREFIX.match(prefix):
            raise forms.ValidationError(f"“{prefix}” is not a ZIP prefix: enter 1 to 5 digits, e.g. 100.")
        return prefix

    def clean(self) -> dict:
        values = super().clean()
        state, prefix = values.get("state"), values.get("zip_prefix")
        if "state" in self.errors or "zip_prefix" in self.errors:
            return values
        if bool(state) == bool(prefix):
            # On the state's field, so that the database's own check (one of the two) does not repeat it.
            self.add_error("state", "Enter a state or a ZIP prefix, not both: each destination names one."
                           if state else "Enter a state or a ZIP prefix.")
            return values
        named = {"state": state} if state else {"zip_prefix": prefix}
        taken = ShippingDestination.objects.filter(**named).exclude(pk=self.instance.pk).select_related("zone").first()
        if taken is not None:
            where = ("this zone already" if taken.zone_id == self.instance.zone_id
                     else f"the zone “{taken.zone.name}”: remove it there first")
            what = state if state else f"ZIP prefix {prefix}"
            self.add_error("state" if state else "zip_prefix", f"{what} is in {where}.")
        return values


class RateForm(forms.ModelForm):
    base_cost = AsciiDecimalFormField(max_digits=8, decimal_places=2, min_value=0,
                                      error_messages={"invalid": COST_MESSAGE, "min_value": COST_MESSAGE},
                                      help_text="Dollars per parcel.")
    cost_per_kg = AsciiDecimalFormField(label="Cost per kg", max_digits=8, decimal_places=2, min_value=0,
                                        error_messages={"invalid": COST_MESSAGE, "min_value": COST_MESSAGE},
                                        help_text="Dollars for every started kilogram.")
    days_min = AsciiIntegerFormField(label="Days (fewest)", min_value=1, max_value=365,
                                     error_messages={"invalid": DAYS_MESSAGE, "min_value": DAYS_MESSAGE})
    days_max = AsciiIntegerFormField(label="Days (most)", min_value=1, max_value=365,
                                     error_messages={"invalid": DAYS_MESSAGE, "min_value": DAYS_MESSAGE})

    class Meta:
        model = ShippingRate
        fields = ("service", "base_cost", "cost_per_kg", "days_min", "days_max")

    def clean(self) -> dict:
        values = super().clean()
        fewest, most = values.get("days_min"), values.get("days_max")
        if fewest is not None and most is not None and fewest > most:
            # On a field, so that the database's own check (days in order) does not repeat it.
            self.add_error("days_max", f"The most days ({most}) cannot be fewer than the fewest ({fewest}).")
        return values


class RateFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        seen = set()
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or form.cleaned_data.get("DELETE"):
                continue
            service = form.cleaned_data.get("service")
            if service in seen:
                raise forms.ValidationError(
                    f"A zone has one rate per service: {ShippingService(service).label} is given twice.")
            if service:
                seen.add(service)
        super().clean()


class DestinationInline(RateCardPermissionMixin, admin.TabularInline):
    model = ShippingDestination
    form = DestinationForm
    extra = 1
    verbose_name = "destination (a state or a ZIP prefix)"


class RateInline(RateCardPermissionMixin, admin.TabularInline):
    model = ShippingRate
    form = RateForm
    formset = RateFormSet
    extra = 0
    max_num = len(ShippingService.choices)
    fields = ("service", "base_cost", "cost_per_kg", "days_min", "days_max")


def _rate_column(service: str):
    """A list column: the zone's rate for `service`, "$4.99 + $0.50/kg", sortable by its base cost."""
    @admin.display(description=f"{ShippingService(service).label}", ordering=f"{service}_base")
    def shown(model_admin, zone: ShippingZone) -> str:
        rate = next((rate for rate in zone.rates.all() if rate.service == service), None)
        if rate is None:
            return "—"
        return f"{money(rate.base_cost)} + {money(rate.cost_per_kg)}/kg"

    return shown


@admin.register(ShippingZone)
class ShippingZoneAdmin(RateCardPermissionMixin, BoundedChangeListMixin, admin.ModelAdmin):
    form = ZoneForm
    inlines = (DestinationInline, RateInline)
    list_display = ("name", "is_fallback", "destinations_summary", "standard", "express")
    search_fields = ("name", "destinations__state", "destinations__zip_prefix")
    search_help_text = "Zone name, a state (NY) or a ZIP prefix (100)."

    standard = _rate_column(ShippingService.STANDARD)
    express = _rate_column(ShippingService.EXPRESS)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ShippingZone]:
        bases = {
            f"{service}_base": Subquery(ShippingRate.objects.filter(zone=OuterRef("pk"), service=service)
                                        .values("base_cost")[:1])
            for service in ShippingService.values
        }
        return super().get_queryset(request).annotate(**bases).prefetch_related("destinations", "rates")

    @admin.display(description="states and ZIP prefixes")
    def destinations_summary(self, zone: ShippingZone) -> str:
        destinations = list(zone.destinations.all())
        states = [d.state for d in destinations if d.state]
        prefixes = [d.zip_prefix for d in destinations if d.zip_prefix]
        parts = ([f"States: {', '.join(states)}"] if states else []) + (
            [f"ZIP: {', '.join(prefixes)}"] if prefixes else [])
        return "; ".join(parts) or ("every other address" if zone.is_fallback else "—")
