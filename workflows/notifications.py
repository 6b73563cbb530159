"""The e-mail task under the path that tasks queued by earlier releases name, so they still run.

Can go once no broker queue or failed task (resubmitted from the admin) names this path: after
one deploy, Q_RETRY × Q_MAX_ATTEMPTS seconds, with the admin's failed tasks of that path deleted."""
from notifications.services import notification_send

__all__ = ["notification_send"]
