"""Customer notifications. The table keeps the name it was created with (in the workflows
app), so no data moved."""
from django.conf import settings
from django.db import models


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
    # A sender's claim: while it lasts, nobody else sends this e-mail (notifications.services).
    email_claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "workflows_notification"
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
