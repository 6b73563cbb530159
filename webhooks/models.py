"""Webhook endpoints staff register, the outbox of deliveries to them and each attempt's log.

A delivery row is written in the transaction that wrote its `OrderEvent` (webhooks.services),
so it exists exactly when that change committed; its `body` is the JSON sent, fixed then, so
every attempt and replay sends the same bytes under the same `message_id`.
"""
from django.db import models

from webhooks.validators import validate_events, validate_url


class WebhookEndpoint(models.Model):
    """Where staff want order events POSTed, and which ones ("*": all)."""

    url = models.URLField(max_length=500, validators=[validate_url])
    events = models.JSONField(default=list, validators=[validate_events], help_text='Event types sent here, e.g. ["order.paid"]; ["*"]: all.')
    enabled = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    # Standard Webhooks form, "whsec_" + base64; the HMAC key is the decoded bytes. Shown once
    # (on creation and rotation), kept to sign with.
    secret = models.CharField(max_length=100, editable=False)
    # Failed attempts in a row; at WEBHOOK_DISABLE_AFTER the endpoint is disabled and staff told.
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    disabled_reason = models.CharField(max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return "*" in self.events or event_type in self.events


class WebhookDelivery(models.Model):
    """One order event for one endpoint: the outbox row, sent by the worker until delivered or
    given up. Rows of one (endpoint, order) go out in id order: a row waits while an earlier
    one is pending."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"  # given up after WEBHOOK_RETRY_HOURS; it no longer holds up later ones

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey("orders.OrderEvent", on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=40)
    message_id = models.CharField(max_length=40, help_text="The webhook-id header and the body's id.")
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # The retry window (WEBHOOK_RETRY_HOURS) counts from the first attempt, so a backlog kept
    # while the endpoint was disabled gets its full window once it is enabled again.
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    # A sender's claim: while it lasts, nobody else sends this row; only the attempt holding the
    # token writes its outcome.
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["endpoint", "order", "id"], condition=models.Q(status="pending"),
                         name="webhookdelivery_pending"),
            models.Index(fields=["endpoint", "created_at"], name="webhookdelivery_endpoint_time"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhookdelivery_once_per_event"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.message_id})"


class WebhookAttempt(models.Model):
    """One POST of a delivery: the delivery log staff read."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The receiver's HTTP status.")
    latency_ms = models.PositiveIntegerField(default=0)
    ok = models.BooleanField(default=False)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
