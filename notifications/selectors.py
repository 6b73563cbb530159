"""Reads of the customer's notifications."""
from django.db.models import QuerySet

from notifications.models import Notification


def notification_unread_count(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_list(*, user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).select_related("order")
