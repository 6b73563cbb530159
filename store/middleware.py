"""Request-scoped middleware: the X-Request-ID header and the user of the log lines."""
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from store.request_context import (
    order_id_var,
    request_id_from_header,
    request_id_var,
    user_bind,
    user_id_var,
)


class RequestIdMiddleware:
    """Gives every request an id (kept from X-Request-ID when sane) and echoes it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from_header(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        token = request_id_var.set(request_id)
        user_token = user_id_var.set(None)
        order_token = order_id_var.set(None)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
            user_id_var.reset(user_token)
            order_id_var.reset(order_token)
        response["X-Request-ID"] = request_id
        return response


class SessionUserMiddleware:
    """Names the signed-in user (session) in the request's log lines; after AuthenticationMiddleware.

    Only a request with a session cookie can have a session user, so others skip the lookup.
    API requests authenticate with a JWT inside the view (store.api.authentication).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            user_bind(request, getattr(request, "user", None))
        return self.get_response(request)
