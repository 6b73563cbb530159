"""The carrier's rate card in the admin: shipping zones, each with its destinations (states and ZIP
prefixes) and one rate per service, edited on the zone's page (providers.rates reads them).

Seeing the rate card needs SHIPPING_VIEW, adding, changing and deleting zones (their destinations
and rates with them) SHIPPING_CHANGE (store.permissions). The forms refuse what the database's
constraints would refuse, with a sentence naming the fix: a state in two letters, a ZIP prefix
in 1 to 5 digits, one of the two per destination, a destination named once (in its zone and
the rate card), one rate per service, costs of zero or more (a base of at most $10,000, at most
$1,000 per kg) and days in order. So that every address has a price, every zone has a standard
rate, and the fallback zone can be neither deleted (its page or the list's action) nor
unticked: ticking "fallback" on another zone moves it there.
"""
import re
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from backoffice.admin.base import BoundedChangeListMixin
from providers.models import ShippingDestination, ShippingRate, ShippingService, ShippingZone
from providers.rates import fallback_refusal, fallback_take
from store import permissions
from store.money import money
from store.numbers import AsciiDecimalFormField, AsciiIntegerFormField

STATE = re.compile(r"[A-Za-z]{2}\Z", re.ASCII)
ZIP_PREFIX = re.compile(r"[0-9]{1,5}\Z", re.ASCII)
COST_MESSAGE = "Enter an amount in dollars of zero or more, e.g. 4.99."
# Far above any carrier's price, and low enough that a heavy order's shipping fits what an order
# holds (orders.shipping.MAX_SHIPPING refuses the rest with a sentence).
MAX_BASE_COST = Decimal("10000")
MAX_COST_PER_KG = Decimal("1000")
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

    def _get_validation_exclusions(self) -> set[str]:
        # A zone ticked "fallback" takes it over on save (fallback_take), so the database's one
        # fallback is not this form's to refuse.
        return super()._get_validation_exclusions() | {"is_fallback"}

    def clean_is_fallback(self) -> bool:
        fallback = self.cleaned_data["is_fallback"]
        if not fallback and self.instance.pk is not None:
            refusal = fallback_refusal(ShippingZone.objects.filter(pk=self.instance.pk))
            if refusal:
                raise forms.ValidationError(refusal)
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
    base_cost = AsciiDecimalFormField(max_digits=8, decimal_places=2, min_value=0, max_value=MAX_BASE_COST,
                                      error_messages={"invalid": COST_MESSAGE, "min_value": COST_MESSAGE,
                                                      "max_value": f"Enter at most {money(MAX_BASE_COST)}."},
                                      help_text="Dollars per parcel.")
    cost_per_kg = AsciiDecimalFormField(label="Cost per kg", max_digits=8, decimal_places=2, min_value=0,
                                        max_value=MAX_COST_PER_KG,
                                        error_messages={"invalid": COST_MESSAGE, "min_value": COST_MESSAGE,
                                                        "max_value": f"Enter at most {money(MAX_COST_PER_KG)}."},
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
        if not any(form.errors for form in self.forms) and ShippingService.STANDARD not in seen:
            # Without it the zone's addresses have no price: the shop prices an order with no
            # chosen option, and every order when the carrier cannot quote, at standard's.
            raise forms.ValidationError("Every zone needs a standard rate (express is optional): add one.")
        super().clean()


class DestinationFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        # Each row checks the saved rows; two new rows naming the same one only meet here.
        seen = set()
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or form.cleaned_data.get("DELETE"):
                continue
            state, prefix = form.cleaned_data.get("state"), form.cleaned_data.get("zip_prefix")
            named = ("state", state.upper()) if state else ("zip", prefix) if prefix else None
            if named in seen:
                what = named[1] if named[0] == "state" else f"ZIP prefix {named[1]}"
                raise forms.ValidationError(f"{what} is given twice: a zone names each destination once.")
            if named:
                seen.add(named)
        super().clean()


class DestinationInline(RateCardPermissionMixin, admin.TabularInline):
    model = ShippingDestination
    form = DestinationForm
    formset = DestinationFormSet
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

    actions = ("delete_selected",)

    standard = _rate_column(ShippingService.STANDARD)
    express = _rate_column(ShippingService.EXPRESS)

    def save_model(self, request: HttpRequest, obj: ShippingZone, form, change: bool) -> None:
        if obj.is_fallback:
            fallback_take(obj)
        super().save_model(request, obj, form, change)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        zone = self.get_object(request, object_id)
        refusal = fallback_refusal([zone]) if zone is not None and self.has_delete_permission(request, zone) else ""
        if refusal:
            self.message_user(request, refusal, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:providers_shippingzone_change", args=[zone.pk]))
        return super().delete_view(request, object_id, extra_context)

    @admin.action(permissions=["delete"], description="Delete selected shipping zones")
    def delete_selected(self, request: HttpRequest, queryset: QuerySet[ShippingZone]):
        refusal = fallback_refusal(queryset)
        if refusal:
            self.message_user(request, refusal, messages.ERROR)
            return None
        return delete_selected(self, request, queryset)

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
