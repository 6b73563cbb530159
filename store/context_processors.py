"""Template context shared by every page's header."""
from functools import cache

from django.http import HttpRequest


def header(request: HttpRequest) -> dict:
    """Cart badge and unread notifications, computed lazily (only if a template asks).

    The badge counts the cart's review, as the cart page does, so the two always agree.
    """
    from orders.cart import Cart
    from orders.cart_selectors import CartReview, cart_review
    from workflows.selectors import notification_unread_count

    @cache
    def review() -> CartReview:
        return cart_review(cart=Cart(request.session)) if hasattr(request, "session") else CartReview(lines=[])

    def unread() -> int:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return 0
        return notification_unread_count(user=user)

    return {
        "cart_count": lambda: review().item_count,
        "cart_changed": lambda: review().changed,
        "unread_notifications": unread,
    }
