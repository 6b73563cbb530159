"""Request-scoped middleware: the X-Request-ID header."""
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from store.request_context import request_id_from_header, request_id_var, user_id_var


class RequestIdMiddleware:
    """Gives every request an id (kept from X-Request-ID when sane) and echoes it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from_header(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        token = request_id_var.set(request_id)
        user_token = user_id_var.set(None)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
            user_id_var.reset(user_token)
        response["X-Request-ID"] = request_id
        return response
