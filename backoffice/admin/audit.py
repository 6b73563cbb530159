"""The "Staff actions" page: the audit trail of store.audit, by person and by object."""
from auditlog.admin import LogEntryAdmin
from auditlog.filters import CIDFilter, ResourceTypeFilter
from auditlog.models import LogEntry
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from backoffice.admin.base import BoundedChangeListMixin


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
