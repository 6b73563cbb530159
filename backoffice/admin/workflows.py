"""The pipeline's data in the admin: review rules (edited by staff) and the outbox (read-only:
the pipeline writes it)."""
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from backoffice.admin.base import BoundedChangeListMixin, ReadOnlyModelAdmin
from workflows.models import OutboxTask, ReviewRule
from workflows.selectors import review_rule_backtest


@admin.register(ReviewRule)
class ReviewRuleAdmin(BoundedChangeListMixin, admin.ModelAdmin):
    """Rules that hold validated orders for approval. The page shows what a rule would have held."""

    list_display = ("name", "condition", "enabled", "updated_at")
    list_editable = ("enabled",)
    list_filter = ("enabled", "field")
    search_fields = ("name",)
    actions = ("enable_selected", "disable_selected")
    readonly_fields = ("backtest", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", ("field", "operator", "value"), "enabled")}),
        ("On recent orders", {"fields": ("backtest",)}),
        ("History", {"fields": (("created_at", "updated_at"),)}),
    )

    @admin.display(description="condition")
    def condition(self, rule: ReviewRule) -> str:
        return f"{rule.get_field_display()} {rule.get_operator_display()} {rule.value}"

    @admin.display(description="would have held")
    def backtest(self, rule: ReviewRule) -> str:
        if rule.pk is None:
            return "Save the rule to see how many recent orders it would have held."
        result = review_rule_backtest(rule=rule)
        if not result.considered:
            return "No orders yet."
        return f"{result.held} of the last {result.considered} orders"

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[ReviewRule], *, enabled: bool) -> None:
        changed = list(queryset.exclude(enabled=enabled))
        ReviewRule.objects.filter(pk__in=[rule.pk for rule in changed]).update(
            enabled=enabled, updated_at=timezone.now()
        )
        verb = "Enabled" if enabled else "Disabled"
        if changed:
            LogEntry.objects.log_actions(
                user_id=request.user.pk, queryset=changed, action_flag=CHANGE,
                change_message=[{"changed": {"fields": ["Enabled"]}}],
            )
        rules = len(changed)
        messages.success(request, f"{verb} {rules} rule{'' if rules == 1 else 's'}.")

    @admin.action(description="Enable selected rules", permissions=["change"])
    def enable_selected(self, request: HttpRequest, queryset: QuerySet[ReviewRule]) -> None:
        self._set_enabled(request, queryset, enabled=True)

    @admin.action(description="Disable selected rules", permissions=["change"])
    def disable_selected(self, request: HttpRequest, queryset: QuerySet[ReviewRule]) -> None:
        self._set_enabled(request, queryset, enabled=False)


@admin.register(OutboxTask)
class OutboxTaskAdmin(ReadOnlyModelAdmin):
    """Tasks the broker refused, waiting for the worker's relay; rows that stay mean it is still down."""

    list_display = ("created_at", "task_name", "func", "attempts", "error")
    search_fields = ("task_name",)
