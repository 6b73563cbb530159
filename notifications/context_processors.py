"""Template context for every page's header: the unread notifications."""
from django.http import HttpRequest

from notifications.selectors import notification_unread_count


def header(request: HttpRequest) -> dict:
    """The unread count, computed lazily (only if a template asks)."""

    def unread() -> int:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return 0
        return notification_unread_count(user=user)

    return {"unread_notifications": unread}
