"""Pipeline data: workflow versions (its policy), review rules, their evaluations and holds, and the outbox of
tasks the broker refused."""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from workflows.review.conditions import condition_matches, condition_words

HOLD_HOURS_MAX = 720  # 30 days


class HoldExpiry(models.TextChoices):
    """What happens to a held order at its deadline."""

    CANCEL = "cancel", "Cancel it (the customer is told, stock is released)"
    APPROVE = "approve", "Approve it"
    REMIND = "remind", "Remind the approvers by e-mail and keep it waiting"



class ReviewRule(models.Model):
    """When its condition matches a validated order (and no rule before it did), hold the order for
    a person's approval or reject it before payment.

    `condition` is a tree of comparisons over facts (workflows.review.conditions), kept canonical
    by `condition_clean` wherever it is written (the admin's form, the API, the fixtures). Rules are asked in `priority` order, lowest
    first; the first that matches decides.
    """

    class Action(models.TextChoices):
        HOLD = "hold", "Hold for approval"
        REJECT = "reject", "Reject the order"

    name = models.CharField(max_length=120)
    priority = models.PositiveIntegerField(default=100, help_text="Rules are asked lowest first; the first that "
                                                                  "matches decides.")
    enabled = models.BooleanField(default=True)
    action = models.CharField(max_length=10, choices=Action.choices, default=Action.HOLD)
    condition = models.JSONField(help_text='A tree of comparisons: {"all": […]}, {"any": […]}, {"not": …}, '
                                           '{"fact", "op", "value"}.')
    reason = models.CharField(max_length=200, blank=True, help_text="Why it holds an order, as staff read it.")
    customer_message = models.CharField(
        max_length=200, blank=True,
        help_text="What the customer reads when this rule rejects their order (or cancels it at the hold's "
                  "deadline).")
    hold_hours = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(HOLD_HOURS_MAX)],
        help_text="How long an order it holds may wait for a person; empty: the shop's default.")
    expiry_action = models.CharField(
        max_length=10, choices=HoldExpiry.choices, blank=True,
        help_text="What happens to an order it holds at the deadline; empty: the shop's default.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # The condition is checked where it is written (condition_clean: the admin's rows, the API,
        # the fixtures), not on every save: a rule whose category was deleted since can still be
        # renamed or switched off.
        errors = {}
        if self.action == self.Action.REJECT and not self.customer_message.strip():
            errors["customer_message"] = ["A rule that rejects says what the customer reads."]
        if self.action == self.Action.HOLD and not self.reason.strip():
            errors["reason"] = ["A rule that holds says why, for the staff who decide."]
        if errors:
            raise ValidationError(errors)

    def matches(self, facts: dict) -> bool:
        """Whether an order with these facts (workflows.review.facts.facts_read) matches."""
        return condition_matches(self.condition, facts)

    @property
    def condition_words(self) -> str:
        return condition_words(self.condition)


class RuleEvaluation(models.Model):
    """One asking of the review rules about an order: the facts they read, each rule's outcome in
    the order asked, and the decision. Written with the transition it decided."""

    class Decision(models.TextChoices):
        PASS = "pass", "Passed"
        HOLD = "hold", "Held for approval"
        REJECT = "reject", "Rejected"

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="rule_evaluations")
    facts = models.JSONField(default=dict, help_text="The facts the rules read, money as strings.")
    # [{"rule": id, "name", "action", "matched": bool, "because": the condition in words with the order's values}]
    outcomes = models.JSONField(default=list)
    decision = models.CharField(max_length=10, choices=Decision.choices)
    rule = models.ForeignKey(ReviewRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # False: asked for staff to read only (the pipeline held the order itself; a person decides).
    applied = models.BooleanField(default=True)
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["order", "created_at"], name="ruleevaluation_order_created")]

    def __str__(self) -> str:
        return f"Review of order {self.order_id}: {self.get_decision_display()}"

    @property
    def deciding(self) -> dict | None:
        """The outcome of the rule that decided, None when none matched."""
        return next((outcome for outcome in self.outcomes if outcome.get("matched")), None)


class Hold(models.Model):
    """An order waiting for a person's approval: why (its rule, or the pipeline's own reason), who
    looks at it, and until when. At `deadline` the expiry action runs once
    (workflows.review.holds.holds_expire). Ends when the order leaves awaiting approval."""

    order = models.OneToOneField("orders.Order", on_delete=models.CASCADE, related_name="hold")
    rule = models.ForeignKey(ReviewRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="holds")
    rule_name = models.CharField(max_length=120, blank=True, help_text="The rule's name when it held the order.")
    reason = models.CharField(max_length=200, help_text="Why the order waits, as staff read it.")
    system = models.BooleanField(default=False, help_text="Held by the pipeline itself, not by a rule.")
    evaluation = models.ForeignKey(RuleEvaluation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="holds_assigned")
    deadline = models.DateTimeField()
    expiry_action = models.CharField(max_length=10, choices=HoldExpiry.choices)
    customer_message = models.CharField(max_length=200, blank=True, help_text="Told if the deadline cancels it.")
    created_at = models.DateTimeField(default=timezone.now)
    # The expiry action ran (once): when, and what it did.
    expired_at = models.DateTimeField(null=True, blank=True)
    expiry_outcome = models.CharField(max_length=200, blank=True)
    # The order left awaiting approval: when, by which transition, by whom.
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=40, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["deadline", "id"]
        indexes = [models.Index(fields=["resolved_at", "deadline"], name="hold_open_deadline")]

    def __str__(self) -> str:
        return f"Hold on order {self.order_id}: {self.reason}"

    @property
    def overdue(self) -> bool:
        return self.resolved_at is None and self.deadline <= timezone.now()


class OutboxTask(models.Model):
    """A task the broker refused when it was queued after a commit, kept until the relay queues it.

    The relay (`workflows.outbox`) runs in the worker cluster's main process every
    OUTBOX_RELAY_SECONDS and on every sweep; it queues the rows oldest first and deletes each
    once the broker took it.
    """

    func = models.CharField(max_length=200, help_text="Dotted path of the task function.")
    args = models.JSONField(default=list)
    task_name = models.CharField(max_length=200, blank=True)
    group = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=500, blank=True, help_text="Why the broker refused it last.")
    attempts = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)  # kept when a refused row is put back

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.task_name or self.func} (deferred {self.attempts}×)"


class VersionPublished(Exception):
    """A published workflow version never changes (nor is it deleted): orders run on it."""


class WorkflowVersion(models.Model):
    """The pipeline's policy (workflows.policy.schema), versioned: a draft is edited, then
    published, which numbers it; the current version is the one with the highest number. A
    published version never changes. Orders record the number current when they were placed
    (orders.Order.workflow_version) and run on it to their end.

    Written through workflows.policy.versions (drafts, publishing, the YAML import)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    number = models.PositiveIntegerField(unique=True, null=True, blank=True,
                                         help_text="Given when it is published: 1, 2, 3…")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    policy = models.JSONField(help_text="Every step's policy and the pipeline's (docs/workflow.md).")
    note = models.CharField(max_length=200, blank=True, help_text="What this version changes, and why.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    published_at = models.DateTimeField(null=True, blank=True)
    # A draft's last dry run (workflows.policy.dryrun): its figures and the policy it ran, and when.
    dry_run = models.JSONField(null=True, blank=True)
    dry_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = [models.F("number").desc(nulls_first=True), "-id"]
        permissions = [("publish_workflowversion", "Can publish workflow versions")]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(status="draft", number__isnull=True, published_at__isnull=True)
                           | models.Q(status="published", number__isnull=False, published_at__isnull=False)),
                name="workflowversion_numbered_when_published"),
        ]

    def __str__(self) -> str:
        return f"Version {self.number}" if self.number else f"Draft {self.pk or '(new)'}"

    @property
    def published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    def save(self, *args, **kwargs) -> None:
        # The row as stored decides: a published version is never written again, whatever this copy says.
        if self.pk and WorkflowVersion.objects.filter(pk=self.pk, status=self.Status.PUBLISHED).exists():
            raise VersionPublished(f"{self} is published: it never changes. Make a new draft.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.pk and WorkflowVersion.objects.filter(pk=self.pk, status=self.Status.PUBLISHED).exists():
            raise VersionPublished(f"{self} is published: orders run on it, so it is never deleted.")
        return super().delete(*args, **kwargs)
