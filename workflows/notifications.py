"""Where the e-mail task lived before notifications had an app of their own: a task queued
then (by the old path) still finds it after an upgrade."""
from notifications.services import notification_send

__all__ = ["notification_send"]
