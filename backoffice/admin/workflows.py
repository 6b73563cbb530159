"""The pipeline's data in the admin: review rules (edited by staff) and the outbox (read-only:
the pipeline writes it)."""
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from backoffice.admin.base import BoundedChangeListMixin, ReadOnlyModelAdmin
from backoffice.forms import ReviewRuleForm
from store import permissions
from store.errors import NotFound
from workflows.models import HoldExpiry, OutboxTask, ReviewRule
from workflows.review.evaluate import review_rule_backtest
from workflows.review.rules import review_rule_save


@admin.register(ReviewRule)
class ReviewRuleAdmin(BoundedChangeListMixin, admin.ModelAdmin):
    """Rules that hold validated orders for approval or reject them, asked in priority order.
    The change page edits the condition as rows (backoffice.forms.ReviewRuleForm) and tries an
    unsaved rule on recent orders ("Try on recent orders": nothing is saved)."""

    form = ReviewRuleForm
    change_form_template = "admin/workflows/reviewrule/change_form.html"
    list_display = ("name", "priority", "action", "condition_text", "enabled", "updated_at")
    list_editable = ("enabled",)
    list_filter = ("enabled", "action")
    search_fields = ("name",)
    ordering = ("priority", "id")
    actions = ("enable_selected", "disable_selected")
    readonly_fields = ("condition_in_words", "created_at", "updated_at")
    BACKTEST_ORDERS = 100

    def get_fieldsets(self, request: HttpRequest, obj=None):
        if obj is not None and obj.condition and ReviewRuleForm.rows_of(obj.condition) is None:
            condition = ("Condition", {"fields": ("condition_in_words",), "description":
                         "This condition has groups inside groups, written through the API (/api/review-rules): "
                         "it is shown in words and kept as it is when you save here."})
        else:
            rows = tuple((f"c{row}_not", f"c{row}_fact", f"c{row}_op", f"c{row}_value")
                         for row in range(ReviewRuleForm.ROWS))
            condition = ("Condition", {"fields": ("match", *rows), "description":
                         "Leave the rows you do not need empty. Money in dollars (500 or 499.99), counts and days "
                         "as whole numbers, ZIP prefixes as three digits, categories by name."})
        return (
            (None, {"fields": ("name", ("priority", "enabled"), "action", "reason", "customer_message")}),
            condition,
            ("If it holds an order", {"fields": (("hold_hours", "expiry_action"),), "description":
             f"Empty: the shop's defaults ({settings.REVIEW_HOLDS['HOURS']} hours, then "
             f"{HoldExpiry(settings.REVIEW_HOLDS['EXPIRY_ACTION']).label.lower()})."}),
            ("History", {"fields": (("created_at", "updated_at"),)}),
        )

    @admin.display(description="condition")
    def condition_text(self, rule: ReviewRule) -> str:
        return rule.condition_words

    @admin.display(description="condition")
    def condition_in_words(self, rule: ReviewRule) -> str:
        return rule.condition_words if rule.pk else "—"

    def save_model(self, request: HttpRequest, obj: ReviewRule, form, change: bool) -> None:
        try:
            review_rule_save(rule=obj, actor=request.user)
        except NotFound as exc:
            raise Http404(exc.message) from exc

    def changeform_view(self, request: HttpRequest, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and "_backtest" in request.POST:
            return self.backtest_view(request, object_id, form_url)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def backtest_view(self, request: HttpRequest, object_id, form_url: str):
        """The change form again, as typed, with what the rule would have done to the last
        BACKTEST_ORDERS orders; nothing is saved."""
        obj = self.get_object(request, object_id) if object_id else None
        if object_id and obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        # As the API's backtest: who may read rules and see other customers' orders.
        if not (self.has_view_permission(request, obj) and permissions.can(request.user, permissions.ORDER_VIEW)):
            raise PermissionDenied
        form = self.get_form(request, obj)(request.POST, instance=obj or ReviewRule())
        backtest = review_rule_backtest(rule=form.save(commit=False), last=self.BACKTEST_ORDERS) \
            if form.is_valid() else None
        fieldsets = self.get_fieldsets(request, obj)
        admin_form = helpers.AdminForm(form, list(fieldsets), {}, self.get_readonly_fields(request, obj),
                                       model_admin=self)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Try {'the rule' if obj else 'a new rule'} on recent orders",
            "subtitle": str(obj) if obj else None,
            "adminform": admin_form, "object_id": object_id, "original": obj, "is_popup": False,
            "to_field": None, "media": self.media + admin_form.media, "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []), "preserved_filters": self.get_preserved_filters(request),
            "backtest": backtest, "backtest_shown": backtest.matched[:50] if backtest else [],
        }
        return self.render_change_form(request, context, add=obj is None, change=obj is not None, obj=obj,
                                       form_url=form_url)

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
