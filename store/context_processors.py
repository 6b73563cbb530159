"""Template context shared by every page's header."""
from django.http import HttpRequest


def header(request: HttpRequest) -> dict:
    """Cart badge count and unread notifications, computed lazily (only if a template asks)."""
    from orders.cart import Cart
    from workflows.selectors import notification_unread_count

    def cart_count() -> int:
        return Cart(request.session).item_count() if hasattr(request, "session") else 0

    def unread() -> int:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return 0
        return notification_unread_count(user=user)

    return {"cart_count": cart_count, "unread_notifications": unread}
