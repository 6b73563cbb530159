"""What the back office's admin modules share: lists that refuse filters the database cannot
take, named fields in lists edited in place, a read-only ModelAdmin, the order-number search, the
link to an order's page and amounts shown with their currency."""
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from store.money import money
from store.numbers import MAX_ID


def money_field(field: str, description: str):
    """An admin column or read-only field showing the model's amount `field` as people read it
    ("$1,049.93", store.money), sortable by the field; Django's own would show "1049.93"."""
    @admin.display(description=description, ordering=field)
    def shown(model_admin, obj) -> str:
        return money(getattr(obj, field))

    return shown


def _past_integers(value: str) -> bool:
    """A whole number (ASCII, maybe signed) larger than the database's integers hold."""
    digits = value.strip().lstrip("-")
    return digits.isascii() and digits.isdigit() and (len(digits) > 19 or int(digits) > MAX_ID)


class BoundedChangeList(ChangeList):
    """A list whose filters from the address (`?owner=…`, `?id__in=1,2`, `?state__exact=…`) are
    refused, as any bad filter is (the list unfiltered, "?e=1"; the orders export: a 400), when a
    value is one the database cannot take: a number past its integers (SQLite cannot bind it) or
    text with a NUL character (PostgreSQL refuses it). The page would be a server error."""

    def get_filters(self, request: HttpRequest):
        for values in self.get_filters_params().values():
            for value in values if isinstance(values, list) else [values]:
                if "\x00" in str(value) or any(_past_integers(part) for part in str(value).split(",")):
                    raise IncorrectLookupParameters("A filter's value is not one the database can hold.")
        return super().get_filters(request)


class BoundedChangeListMixin:
    """ModelAdmins whose lists refuse numbers past the database's integers (BoundedChangeList)."""

    def get_changelist(self, request: HttpRequest, **kwargs):
        return BoundedChangeList


class LabelledListEditableMixin:
    """ModelAdmins with `list_editable`: each field in the list is named for its row ("Price of
    Mechanical Keyboard"), since Django's list gives its inputs no label but the column header."""

    def get_changelist_form(self, request: HttpRequest, **kwargs):
        form_class = super().get_changelist_form(request, **kwargs)

        class Form(form_class):
            def __init__(self, *args, **kwargs) -> None:
                super().__init__(*args, **kwargs)
                for field in self.fields.values():  # each form's own copies of the fields
                    field.widget.attrs["aria-label"] = f"{str(field.label).capitalize()} of {self.instance}"

        return Form


class ReadOnlyModelAdmin(BoundedChangeListMixin, admin.ModelAdmin):
    """An admin for records the application writes (refunds, notifications, the gateways' ledger):
    staff look, nobody adds, edits or deletes through the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class OrderNumberSearchMixin:
    """Lets the admin's search box find a row by its order's number ("#000012" or "12")."""

    order_number_lookup = "order_id"

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        number = search_term.strip().lstrip("#")
        if number.isascii() and number.isdigit():
            if int(number) > MAX_ID:  # no such order, and more than the database's integers hold
                return queryset.none(), False
            return queryset.filter(**{self.order_number_lookup: int(number)}), False
        return super().get_search_results(request, queryset, search_term)


def plural(count: int, word: str) -> str:
    """"1 order", "2 orders"."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def order_link(order_id: int | None, label: str | None = None) -> str:
    """A link to the order's admin page ("#000012"), or "—" without an order."""
    if order_id is None:
        return "—"
    url = reverse("admin:orders_order_change", args=[order_id])
    return format_html('<a href="{}">{}</a>', url, label or f"#{order_id:06d}")
