"""The audit trail of staff actions: django-auditlog's log entries, one staff page in the admin.

Model changes are recorded by django-auditlog itself, with every changed field's old and
new value: the models in settings.AUDITLOG_INCLUDE_TRACKING_MODELS (products, categories,
review rules, refunds, staff's internal notes, users and groups with their permissions), whatever surface saved
them. The actor is the request's user, resolved when the entry is written
(`AuditActorMiddleware`: the API's JWT user is only known inside the view); work done by
the pipeline has no actor ("system"). An order's state never changes through a form, so
its staff actions are recorded here explicitly (`staff_action_record`, called by
orders.services.transitions) besides the order's own timeline (OrderEvent).

Every entry keeps the actor's e-mail, which stays when the staff account is deleted. The
admin's "Staff actions" page (backoffice.admin.audit) lists them, filtered by person and by object.
"""
from auditlog.middleware import AuditlogMiddleware
from auditlog.models import LogEntry
from django.db.models import Model
from django.utils.functional import SimpleLazyObject

from store.throttling import client_address


def secret_hide(value: str) -> str:
    """settings.AUDITLOG_INCLUDE_TRACKING_MODELS' mask: a password hash is never copied into the trail."""
    return "(hidden)"


def staff_action_record(*, actor, obj: Model, action: str, changes: dict[str, list], detail: dict) -> LogEntry:
    """Record that staff member `actor` did `action` to `obj`: `changes` is {field: [old, new]}."""
    return LogEntry.objects.log_create(
        obj,
        force_log=True,
        action=LogEntry.Action.UPDATE,
        changes=changes,
        actor=actor,
        actor_email=getattr(actor, "email", None),
        additional_data={"action": action, **detail},
    )


class AuditActorMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware with the actor resolved when an entry is written, not when the
    request arrives, and the client's address as store.throttling reads it (trusted proxies only)."""

    @staticmethod
    def _get_actor(request):
        def authenticated_user():
            user = getattr(request, "user", None)
            return user if user is not None and user.is_authenticated else None

        return SimpleLazyObject(authenticated_user)

    @staticmethod
    def _get_remote_addr(request) -> str | None:
        return client_address(request)
