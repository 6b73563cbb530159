"""The pipeline's data in the admin: workflow versions (its policy: drafts edited by staff, then
published), review rules (edited by staff) and the outbox (read-only: the pipeline writes it)."""
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from backoffice.admin.base import BoundedChangeListMixin, LabelledListEditableMixin, ReadOnlyModelAdmin
from backoffice.forms import ReviewRuleForm, WorkflowVersionForm, policy_field_name
from orders.states import OrderState
from store import permissions
from store.errors import Conflict, NotFound
from workflows.models import HoldExpiry, OutboxTask, ReviewRule, WorkflowVersion
from workflows.policy.diagram import policy_notes
from workflows.policy.schema import (
    SECTION_LABELS,
    SECTION_SETTINGS,
    fields,
    path_label,
    policy_diff,
    structure,
    value_at,
)
from workflows.policy.selectors import policy_completed, policy_current, version_previous
from workflows.policy.services import (
    version_draft_create,
    version_draft_update,
    version_dry_run_queue,
    version_publish,
)
from workflows.policy.values import Policy
from workflows.review.evaluate import review_rule_backtest
from workflows.review.rules import review_rule_save


@admin.register(ReviewRule)
class ReviewRuleAdmin(LabelledListEditableMixin, BoundedChangeListMixin, admin.ModelAdmin):
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
        current = policy_current()
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
             f"Empty: the current workflow version's defaults ({current.hold_hours} hours, then "
             f"{HoldExpiry(current.hold_expiry_action).label.lower()})."}),
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


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(BoundedChangeListMixin, admin.ModelAdmin):
    """The pipeline's policy, versioned. "Add" drafts a version from the current one; a draft is
    edited as a form (one field per value, checked as the API checks it) and published with
    "Publish" (its own permission); a published version is shown read-only, with what it
    changed against the version before it. New orders run on the latest published version."""

    form = WorkflowVersionForm
    change_form_template = "admin/workflows/workflowversion/change_form.html"
    list_display = ("__str__", "status", "note", "published_by", "published_at", "created_by", "created_at")
    list_filter = ("status",)
    list_select_related = ("published_by", "created_by")
    ordering = (F("number").desc(nulls_first=True), "-id")
    readonly_fields = ("number", "status", "created_by", "created_at", "published_by", "published_at",
                       "policy_shown", "changes_shown", "dry_run_shown", "pipeline_shown")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None and obj.published:
            return False  # shown read-only: a published version never changes
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # orders refer to published versions by number; a draft is left or published

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        # The policy's fields are the form's own (one per value of the schema), not the model's.
        form = super().get_form(request, obj, change=change, **{**kwargs, "fields": ("note",)})
        policy = policy_current().data

        class Drafted(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, policy=policy, **inner)

        return Drafted

    def get_fieldsets(self, request: HttpRequest, obj=None):
        header = (None, {"fields": (("number", "status"), "note", ("created_by", "created_at"),
                                    ("published_by", "published_at"), "revision")})
        if obj is None:
            header = (None, {"fields": ("note",), "description": "The draft starts as the current version. "
                             "Nothing changes for any order until it is published."})
        diagram = ("The pipeline under it", {"fields": ("pipeline_shown",), "description": "What the pipeline "
                   "does in each state under this version, as the state diagram (docs/state-diagram.md) notes it."})
        if obj is not None and obj.published:
            return (header, ("Policy", {"fields": ("policy_shown",)}),
                    (self._changes_title(obj), {"fields": ("changes_shown",)}), diagram)
        sections = []
        by_prefix: dict[str, list[str]] = {}
        for path, _setting in fields():
            by_prefix.setdefault(".".join(path.split(".")[:2]) if path.startswith("steps.") else path.split(".")[0],
                                 []).append(policy_field_name(path))
        for shape in structure():
            sections.append((f"Step: {shape.name}" + (" (optional)" if shape.optional else ""),
                             {"fields": tuple(by_prefix[f"steps.{shape.name}"])}))
        for section in SECTION_SETTINGS:
            sections.append((SECTION_LABELS[section], {"fields": tuple(by_prefix[section])}))
        tail = [(self._changes_title(obj), {"fields": ("changes_shown",)}),
                ("Dry run", {"fields": ("dry_run_shown",), "description": "Synthetic orders through the pipeline "
                 "against the simulated providers, under this draft and under the current version, in a sandbox "
                 "that is rolled back: no order, charge, e-mail, stock or ledger row remains."}),
                diagram] if obj else []
        return (header, *sections, *tail)

    def _changes_title(self, obj: WorkflowVersion) -> str:
        previous = version_previous(obj)
        return f"Changes from {previous}" if previous else "Changes (the first version)"

    @admin.display(description="policy")
    def policy_shown(self, obj: WorkflowVersion) -> str:
        rows = [(path_label(path), value) for path, value in ((path, _value(obj.policy, path))
                                                              for path, _setting in fields())]
        return format_html_join("", "<div>{}: <strong>{}</strong></div>", rows) if rows else "—"

    @admin.display(description="states")
    def pipeline_shown(self, obj: WorkflowVersion) -> str:
        notes, skipped = policy_notes(Policy(obj.number or 0, policy_completed(obj.policy)))
        return format_html_join("", "<div>{} ({}): {}</div>", (
            (OrderState(state).label, "skipped" if state in skipped else state, note) for state, note in notes.items()))

    @admin.display(description="changes")
    def changes_shown(self, obj: WorkflowVersion) -> str:
        previous = version_previous(obj)
        if previous is None:
            return "—"
        changes = policy_diff(previous.policy, obj.policy)
        if not changes:
            return "No value differs."
        return format_html_join("", "<div>{}: {} → <strong>{}</strong></div>",
                                ((path_label(path), old, new) for path, old, new in changes))

    def save_model(self, request: HttpRequest, obj: WorkflowVersion, form, change: bool) -> None:
        try:
            if change:
                version_draft_update(version=obj, actor=request.user, changes=obj.policy, note=obj.note,
                                     revision=form.cleaned_data.get("revision") or None)
            else:
                created = version_draft_create(actor=request.user, policy=obj.policy, note=obj.note)
                obj.pk = created.pk
        except Conflict as exc:
            raise PermissionDenied(exc.message) from exc

    def changeform_view(self, request: HttpRequest, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and "_dry_run" in request.POST and object_id:
            return self.dry_run_view(request, object_id)
        if request.method == "POST" and "_publish" in request.POST and not permissions.can(
                request.user, permissions.WORKFLOW_PUBLISH):
            raise PermissionDenied(permissions.WORKFLOW_PUBLISH.refusal)
        extra_context = {**(extra_context or {}),
                         "can_publish": permissions.can(request.user, permissions.WORKFLOW_PUBLISH)}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def dry_run_view(self, request: HttpRequest, object_id):
        """Queue a dry run of the draft as it is saved (the worker runs it); back to its page."""
        version = self.get_object(request, object_id)
        if version is None:
            raise Http404
        if not self.has_change_permission(request, version):
            raise PermissionDenied
        try:
            version_dry_run_queue(version=version, actor=request.user)
        except Conflict as exc:
            messages.error(request, exc.message)
        except ValidationError as exc:
            messages.error(request, "Not queued: the draft is not valid now. " + " ".join(
                f"{path}: {' '.join(problems)}" for path, problems in exc.message_dict.items()))
        else:
            messages.info(request, "The dry run is queued in the worker: reload this page for its figures "
                                   "(a few seconds). It runs the draft as saved.")
        return redirect(request.path)

    @admin.display(description="dry run")
    def dry_run_shown(self, obj: WorkflowVersion) -> str:
        """The last dry run's figures, the draft's next to the current version's, per step."""
        figures = obj.dry_run
        if not figures:
            return "Not run yet: save the draft, then “Dry run”."
        if "error" in figures:
            return figures["error"]
        stale = " (the draft changed since: run it again)" if figures.get("policy") != obj.policy else ""
        head = format_html("<p>{} synthetic orders, {}{}.</p><table><tr><th>step</th><th>This draft</th>"
                           "<th>Version {}</th></tr>", figures["orders"],
                           f"{timezone.localtime(obj.dry_run_at):%Y-%m-%d %H:%M:%S}" if obj.dry_run_at else "", stale,
                           figures["currentVersion"])
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (step, _figures_text(figures["draft"]["steps"].get(step)),
             _figures_text(figures["current"]["steps"].get(step))) for step in figures["draft"]["steps"]))
        ended = format_html("<tr><td>orders ended</td><td>{}</td><td>{}</td></tr></table>",
                            _ended_text(figures["draft"]), _ended_text(figures["current"]))
        return head + rows + ended

    def response_change(self, request: HttpRequest, obj: WorkflowVersion):
        if "_publish" not in request.POST:
            return super().response_change(request, obj)
        try:
            published = version_publish(version=obj, actor=request.user)
        except (Conflict, ValidationError) as exc:
            messages.error(request, getattr(exc, "message", None) or " ".join(exc.messages))
            return redirect(request.path)
        messages.success(request, f"Published as {published}: orders placed from now on run on it.")
        return redirect(reverse("admin:workflows_workflowversion_changelist"))


def _figures_text(figures: dict | None) -> str:
    if not figures or not figures["calls"]:
        return "no calls"
    outcomes = ", ".join(f"{count} {outcome}" for outcome, count in sorted(figures["outcomes"].items()))
    return f"{figures['calls']} calls ({outcomes}), {figures['seconds']:.2f} s"


def _ended_text(run: dict) -> str:
    return ", ".join(f"{count} {state}" for state, count in sorted(run["ended"].items()))


def _value(policy: dict, path: str):
    try:
        return value_at(policy, path)
    except KeyError:
        return "—"
