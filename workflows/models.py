"""Pipeline data: review rules and the outbox of tasks the broker refused."""
from django.db import models
from django.utils import timezone

from workflows.facts import review_fact_choices


class ReviewRule(models.Model):
    """Holds a validated order for staff approval when `field operator value` matches."""

    class Operator(models.TextChoices):
        GTE = "gte", "≥"
        GT = "gt", ">"
        LTE = "lte", "≤"
        LT = "lt", "<"
        EQ = "eq", "="

    name = models.CharField(max_length=120)
    field = models.CharField(max_length=20, choices=review_fact_choices, help_text="The order fact it tests.")
    operator = models.CharField(max_length=3, choices=Operator.choices)
    value = models.DecimalField(max_digits=12, decimal_places=2)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def matches(self, **facts) -> bool:
        """Whether an order with these facts (workflows.facts) matches; a missing fact never does."""
        actual = facts.get(self.field)
        if actual is None:
            return False
        expected = self.value
        return {
            "gte": actual >= expected,
            "gt": actual > expected,
            "lte": actual <= expected,
            "lt": actual < expected,
            "eq": actual == expected,
        }[self.operator]


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
