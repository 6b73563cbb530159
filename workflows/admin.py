"""The pipeline's data in the admin: review rules (edited by staff), notifications, the
simulated providers' ledger and the outbox (read-only: the pipeline writes them)."""
import json

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from store.admin import OrderNumberSearchMixin, ReadOnlyModelAdmin
from workflows.models import GatewayCall, Notification, OutboxTask, ReviewRule
from workflows.selectors import review_rule_backtest


def order_link(order_id: int | None, label: str | None = None) -> str:
    if order_id is None:
        return "—"
    url = reverse("admin:orders_order_change", args=[order_id])
    return format_html('<a href="{}">{}</a>', url, label or f"#{order_id:06d}")


@admin.register(ReviewRule)
class ReviewRuleAdmin(admin.ModelAdmin):
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


@admin.register(Notification)
class NotificationAdmin(OrderNumberSearchMixin, ReadOnlyModelAdmin):
    list_display = ("created_at", "title", "user", "order_number", "event_type", "read_at", "email_sent_at")
    list_select_related = ("user", "order")
    list_filter = ("event_type", ("read_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("title", "user__email")
    search_help_text = "Title, customer e-mail or order number."
    date_hierarchy = "created_at"
    fields = ("created_at", "user", "order_number", "event_type", "title", "body", "read_at")
    readonly_fields = fields

    @admin.display(description="order", ordering="order_id")
    def order_number(self, notification: Notification) -> str:
        return order_link(notification.order_id)


@admin.register(GatewayCall)
class GatewayCallAdmin(OrderNumberSearchMixin, ReadOnlyModelAdmin):
    """The simulated providers' ledger: every call they answered, by idempotency key."""

    list_display = ("created_at", "gateway", "operation", "idempotency_key", "order_number", "outcome", "final",
                    "latency_ms")
    list_filter = ("gateway", "operation", "outcome", "final", "created_at")
    search_fields = ("idempotency_key",)
    search_help_text = "Idempotency key or order number."
    date_hierarchy = "created_at"
    fields = ("created_at", "gateway", "operation", "idempotency_key", "order_number", "outcome", "final",
              "latency_ms", "result_json")
    readonly_fields = fields

    @admin.display(description="order", ordering="order_id")
    def order_number(self, call: GatewayCall) -> str:
        return order_link(call.order_id)

    @admin.display(description="result")
    def result_json(self, call: GatewayCall) -> str:
        return format_html("<pre>{}</pre>", json.dumps(call.result, indent=2, sort_keys=True, default=str))


@admin.register(OutboxTask)
class OutboxTaskAdmin(ReadOnlyModelAdmin):
    """Tasks the broker refused, waiting for the worker's relay; rows that stay mean it is still down."""

    list_display = ("created_at", "task_name", "func", "attempts", "error")
    search_fields = ("task_name",)
