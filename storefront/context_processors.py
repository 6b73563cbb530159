"""Template context for every page's header: the cart badge, and the page's own path."""
from functools import cache
from urllib.parse import quote

from django.http import HttpRequest

from storefront.cart import Cart
from storefront.selectors.cart import CartReview, cart_review


def header(request: HttpRequest) -> dict:
    """The cart badge, computed lazily (only if a template asks), and the page's path: as
    `next_path` (forms that come back here) and URL-encoded as `login_next` (the sign-in links).

    The badge counts the cart's review, as the cart page does, so the two always agree. Pages
    shared through store.fragments put each request's own paths in at these names.
    """

    @cache
    def review() -> CartReview:
        return cart_review(cart=Cart(request.session)) if hasattr(request, "session") else CartReview(lines=[])

    return {
        "cart_count": lambda: review().item_count,
        "cart_changed": lambda: review().changed,
        "next_path": request.get_full_path,
        "login_next": lambda: quote(request.get_full_path(), safe="/"),
    }
