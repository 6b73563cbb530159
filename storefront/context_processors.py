"""Template context for every page's header: the cart badge."""
from functools import cache

from django.http import HttpRequest

from storefront.cart import Cart
from storefront.selectors.cart import CartReview, cart_review


def header(request: HttpRequest) -> dict:
    """The cart badge, computed lazily (only if a template asks).

    The badge counts the cart's review, as the cart page does, so the two always agree.
    """

    @cache
    def review() -> CartReview:
        return cart_review(cart=Cart(request.session)) if hasattr(request, "session") else CartReview(lines=[])

    return {
        "cart_count": lambda: review().item_count,
        "cart_changed": lambda: review().changed,
    }
