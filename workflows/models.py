"""Pipeline data: review rules, customer notifications and the simulated providers' ledger."""
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone


class ReviewRule(models.Model):
    """Holds a validated order for staff approval when `field operator value` matches."""

    class Field(models.TextChoices):
        TOTAL = "total", "Order total (USD)"
        ITEM_COUNT = "item_count", "Number of items"
        LINE_COUNT = "line_count", "Number of lines"

    class Operator(models.TextChoices):
        GTE = "gte", "≥"
        GT = "gt", ">"
        LTE = "lte", "≤"
        LT = "lt", "<"
        EQ = "eq", "="

    name = models.CharField(max_length=120)
    field = models.CharField(max_length=20, choices=Field.choices)
    operator = models.CharField(max_length=3, choices=Operator.choices)
    value = models.DecimalField(max_digits=12, decimal_places=2)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def matches(self, *, total: Decimal, item_count: int, line_count: int) -> bool:
        actual = {"total": total, "item_count": item_count, "line_count": line_count}[self.field]
        expected = self.value
        return {
            "gte": actual >= expected,
            "gt": actual > expected,
            "lte": actual <= expected,
            "lt": actual < expected,
            "eq": actual == expected,
        }[self.operator]


class Notification(models.Model):
    """What the customer is told about an order (also sent by e-mail)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="notifications")
    event_type = models.CharField(max_length=40)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The e-mail goes out from the worker after the row commits; until then the row is its outbox.
    email_sent_at = models.DateTimeField(null=True, blank=True)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    # A sender's claim: while it lasts, nobody else sends this e-mail (workflows.notifications).
    email_claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "read_at"], name="notification_user_read"),
            models.Index(fields=["created_at"], condition=models.Q(email_sent_at__isnull=True),
                         name="notification_email_unsent"),
        ]
        constraints = [
            # One notification per published event: a redelivered task does not notify twice.
            models.UniqueConstraint(fields=["order", "event_type"], name="notification_once_per_event"),
        ]

    def __str__(self) -> str:
        return self.title


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


class GatewayCall(models.Model):
    """The simulated providers' own record of every call they answered.

    A real provider keeps this on its side; the simulator keeps it here so that calls with
    the same idempotency key return the first final result, and so drills can count charges.
    """

    class Gateway(models.TextChoices):
        INVENTORY = "inventory"
        PAYMENT = "payment"
        SHIPPING = "shipping"
        NOTIFICATION = "notification"

    gateway = models.CharField(max_length=20, choices=Gateway.choices)
    operation = models.CharField(max_length=20)
    idempotency_key = models.CharField(max_length=128)
    order_id = models.BigIntegerField(null=True, db_index=True)
    outcome = models.CharField(max_length=20)
    final = models.BooleanField(default=True, help_text="False for transient errors (timeouts).")
    result = models.JSONField(default=dict)
    latency_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["idempotency_key", "final"], name="gatewaycall_key_final")]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "operation", "idempotency_key"],
                condition=models.Q(final=True),
                name="gatewaycall_one_final_result_per_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gateway}.{self.operation} {self.idempotency_key} → {self.outcome}"


class CardToken(models.Model):
    """The simulated payment provider's vault: a token stands for a card we never store."""

    token = models.CharField(max_length=64, unique=True)
    last4 = models.CharField(max_length=4)
    # The deterministic test-card behaviour (approve, decline, timeout_once) or "" for random.
    behaviour = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"card ending {self.last4}"
