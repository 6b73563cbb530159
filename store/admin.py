"""What the store's admin modules share (a read-only ModelAdmin, the order-number search and
link), the
"Staff actions" page (the audit trail of store.audit), and the libraries' own admins held to
the store's rules (django-q2's schedules and queue, django-axes' failed sign-ins).

The home page's summary is orders.admin_selectors.admin_dashboard, rendered by
templates/admin/index.html through the `admin_dashboard` tag (orders/templatetags).
"""
from auditlog.admin import LogEntryAdmin
from auditlog.filters import CIDFilter, ResourceTypeFilter
from auditlog.models import LogEntry
from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django_q.admin import QueueAdmin, ScheduleAdmin
from django_q.models import OrmQ, Schedule

from store.audit import staff_action_record

MAX_ID = 2**63 - 1  # the largest BigAutoField


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


def order_link(order_id: int | None, label: str | None = None) -> str:
    """A link to the order's admin page ("#000012"), or "—" without an order."""
    if order_id is None:
        return "—"
    url = reverse("admin:orders_order_change", args=[order_id])
    return format_html('<a href="{}">{}</a>', url, label or f"#{order_id:06d}")


# --- The audit trail: every staff action, by person and by object (store.audit) --------------


class ActorFilter(admin.SimpleListFilter):
    """By person: the e-mail kept on each entry (so a deleted staff account stays findable)."""

    title = "person"
    parameter_name = "actor_email"
    SYSTEM = "system"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        emails = (
            LogEntry.objects.exclude(actor_email__isnull=True).exclude(actor_email="")
            .order_by("actor_email").values_list("actor_email", flat=True).distinct()
        )
        return [(email, email) for email in emails] + [(self.SYSTEM, "System (no person)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == self.SYSTEM:
            return queryset.filter(Q(actor_email__isnull=True) | Q(actor_email=""))
        if self.value():
            return queryset.filter(actor_email=self.value())
        return queryset


admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class StaffActionAdmin(BoundedChangeListMixin, LogEntryAdmin):
    """Staff actions: what changed (old → new), on which object, by whom and when; read-only."""

    list_display = ["created", "who", "resource_url", "action", "msg_short", "cid_url"]
    list_filter = [ActorFilter, ResourceTypeFilter, "action", CIDFilter]
    list_select_related = ["content_type", "actor"]
    search_fields = ["object_repr", "actor_email"]
    search_help_text = 'The object ("Order #000012", a product\'s name or id) or the person\'s e-mail.'
    readonly_fields = ["created", "who", "resource_url", "action", "msg", "additional_data", "cid", "remote_addr"]
    fieldsets = [
        (None, {"fields": ["created", "who", "resource_url", "cid", "remote_addr"]}),
        ("Changes", {"fields": ["action", "msg", "additional_data"]}),
    ]

    @admin.display(description="person")
    def who(self, entry: LogEntry) -> str:
        return entry.actor_email or (str(entry.actor) if entry.actor_id else "system")

    def changelist_view(self, request: HttpRequest, extra_context=None):
        title = "Staff actions: who changed what, with old and new values"
        return super().changelist_view(request, {"title": title, **(extra_context or {})})


# --- Admins that come with the libraries, held to the store's rules ----------------------------


class SuperuserWritesMixin:
    """Only superusers add, change or delete: a django-q2 schedule or queued task names a function
    the worker runs, which is as much as a shell on the machine. Staff with view rights look."""

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser


for _model, _admin_class in ((Schedule, ScheduleAdmin), (OrmQ, QueueAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
        admin.site.register(_model, type(_admin_class.__name__, (SuperuserWritesMixin, _admin_class), {}))


admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class SignInFailuresAdmin(AccessAttemptAdmin):
    """django-axes' failed sign-ins. Deleting them lifts an account's lock: a staff action, so each
    is recorded in the audit trail ("unlock")."""

    def delete_model(self, request: HttpRequest, obj: AccessAttempt) -> None:
        self._record_unlock(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._record_unlock(request, list(queryset))
        super().delete_queryset(request, queryset)

    def _record_unlock(self, request: HttpRequest, attempts: list[AccessAttempt]) -> None:
        for attempt in attempts:
            staff_action_record(
                actor=request.user, obj=attempt, action="unlock",
                changes={"failures_since_start": [str(attempt.failures_since_start), "0"]},
                detail={"username": attempt.username},
            )
