"""The API's one error format: {"error": "<message>", "code": "<code>", "fields"?: {...}}.

Domain errors raised by services (store.errors.DomainError) and DRF's own exceptions both
end here, so every 4xx/5xx under /api has the same shape. So does a request the database could
not serve (store.outage): 503 "database_unavailable" with Retry-After, and a static page
(templates/503.html) outside /api.
"""
import logging
import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from store import outage
from store.errors import DomainError

logger = logging.getLogger("store.outage")

UNAVAILABLE_MESSAGE = "The store cannot reach its database just now; nothing was changed. Try again in a moment."

_DEFAULT_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "throttled",
}


def _first_message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        return _first_message(next(iter(detail.values())))
    return str(detail)


def _flatten_fields(detail: Any) -> Any:
    """DRF ErrorDetail trees → plain strings, keeping the nesting of the input."""
    if isinstance(detail, dict):
        return {key: _flatten_fields(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [str(item) for item in detail]
        return [_flatten_fields(item) for item in detail]
    return str(detail)


def error_body(message: str, code: str, fields: dict | None = None) -> dict:
    body = {"error": message, "code": code}
    if fields:
        body["fields"] = fields
    return body


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, RequestDataTooBig):  # Django refused to read the body (DATA_UPLOAD_MAX_MEMORY_SIZE)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(error_body(f"The request body is larger than {limit} bytes.", "payload_too_large"),
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if (failure := outage.unavailable_cause(exc)) is not None:
        _unavailable_noted(getattr(context["request"], "_request", context["request"]), failure)
        return Response(error_body(UNAVAILABLE_MESSAGE, "database_unavailable"),
                        status=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": str(outage.RETRY_AFTER_SECONDS)})
    if isinstance(exc, DomainError):
        body = error_body(exc.message, exc.code, exc.fields)
        retry_after = getattr(exc, "retry_after", None)
        return Response(body, status=exc.status, headers={"Retry-After": str(retry_after)} if retry_after else None)
    if isinstance(exc, DjangoValidationError):  # a model's own check (full_clean) in a service
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    status_code = response.status_code
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = _flatten_fields(fields)
        non_field = fields.pop("non_field_errors", None)
        message = _first_message(non_field) if non_field else "Invalid input: " + ", ".join(
            f"{name}: {_first_message(value)}" for name, value in fields.items()
        )
        if non_field and fields == {}:
            fields = {"nonFieldErrors": non_field}
        response.data = error_body(message, "invalid", fields or None)
        return response
    code = getattr(exc, "default_code", None) or _DEFAULT_CODES.get(status_code, "error")
    detail = getattr(exc, "detail", None)
    if isinstance(detail, exceptions.ErrorDetail) and detail.code:
        code = detail.code
    message = _first_message(detail) if detail is not None else str(exc)
    response.data = error_body(message, code)
    if status_code == status.HTTP_429_TOO_MANY_REQUESTS and "Retry-After" not in response:
        wait = getattr(exc, "wait", None)
        if wait:
            response["Retry-After"] = str(int(wait) + 1)
    return response


# --- Django's own 400, 404 and 500 under /api (a bad request, an unmatched URL, a crash) in the same format ---

def bad_request(request, exception):
    """handler400 (Django's answer to a SuspiciousOperation, e.g. a Host not allowed): JSON for
    /api, templates/400.html elsewhere; a 503 when a database outage is what Django reported
    as suspicious (its chain holds the outage's error: store.outage.unavailable_cause)."""
    from django.views import defaults

    if exception is not None and (failure := outage.unavailable_cause(exception)) is not None:
        return unavailable_response(request, failure)
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("The request could not be understood.", "bad_request"), status=400)
    return defaults.bad_request(request, exception)


def page_not_found(request, exception):
    """handler404: JSON for /api (e.g. /api/orders/abc matches no URL), the HTML page elsewhere."""
    from django.views import defaults

    if request.path.startswith("/api/"):
        return JsonResponse(error_body(f"No API endpoint at {request.path}.", "not_found"), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """handler500: JSON for /api, the HTML page elsewhere; a 503 for a database outage (the
    failure may come from a middleware, e.g. the session's, before any view ran)."""
    from django.views import defaults

    failure = sys.exc_info()[1]
    if failure is not None and (cause := outage.unavailable_cause(failure)) is not None:
        return unavailable_response(request, cause)
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("Internal server error.", "server_error"), status=500)
    return defaults.server_error(request)


def unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 with Retry-After (store.outage.RETRY_AFTER_SECONDS) for a request the database could not
    serve: the API's JSON error (code "database_unavailable") under /api, else templates/503.html,
    rendered without the request's context processors, which would query the database again. An
    HTMX request gets the same 503: static/js/store.js shows "try again in N seconds" and swaps nothing.
    Counted in store_database_unavailable_total{surface="api"|"page"} and logged as one WARNING."""
    if _unavailable_noted(request, exc):
        response = JsonResponse(error_body(UNAVAILABLE_MESSAGE, "database_unavailable"), status=503)
    else:
        response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = str(outage.RETRY_AFTER_SECONDS)
    return response


def _unavailable_noted(request: HttpRequest, exc: BaseException) -> bool:
    """Count and log (once: django.request's line is dropped, store.logging) a request answered
    503 for a database outage; True when it is an API request."""
    api = request.path.startswith("/api/")
    outage.UNAVAILABLE.labels("api" if api else "page").inc()
    logger.warning("%s %s: database unavailable (%s: %s); answered 503", request.method, request.path,
                   exc.__class__.__name__, exc, extra={"status_code": 503})
    request.refusal_logged = True
    return api
