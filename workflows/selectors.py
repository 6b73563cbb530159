"""Reads for the pipeline's data: notifications and review rules."""
from django.db.models import QuerySet

from workflows.models import Notification, ReviewRule


def notification_unread_count(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_list(*, user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).select_related("order")


def review_rules_enabled() -> list[ReviewRule]:
    return list(ReviewRule.objects.filter(enabled=True))
