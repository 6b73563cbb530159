"""Request-scoped middleware: the X-Request-ID header, the probes' answer whatever the Host, the
user of the log lines, the sign-in redirect of an HTMX request whose session ended, the 503
of a request the database could not serve (from a view, or from saving its session), and the
Content-Security-Policy header."""
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

import csp.middleware
from csp.constants import HEADER, HEADER_REPORT_ONLY
from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.urls import resolve
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

from store import outage
from store.api.errors import unavailable_response
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


class ProbeMiddleware:
    """Answers the probes and /metrics (settings.PROBE_PATHS) whatever the Host header says.

    Orchestrators and Prometheus call each process by its IP address, which is not among
    ALLOWED_HOSTS; Django would refuse them with 400 and an ERROR line each. These paths serve
    no page and set no cookie, so their view runs here, before CommonMiddleware validates the
    Host; every other path is validated as usual. Placed after SecurityMiddleware, whose
    SSL redirect exempts the same paths.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.paths = frozenset(settings.PROBE_PATHS)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info in self.paths:
            match = resolve(request.path_info)
            return match.func(request, *match.args, **match.kwargs)
        return self.get_response(request)


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


class HtmxSignInRedirectMiddleware:
    """An HTMX request whose session ended is sent to the sign-in page as a whole page.

    Django answers it with a redirect to LOGIN_URL, which the browser's XMLHttpRequest follows
    silently: the sign-in form would be swapped into the fragment (a cart, a polling order
    status), and `next` would name the fragment's URL. Instead the response tells htmx to load
    the sign-in page in full (HX-Redirect), with `next` the page the person was on. Placed
    after django-htmx's middleware (it reads `request.htmx`).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not getattr(request, "htmx", False) or response.status_code not in (301, 302, 303):
            return response
        login = resolve_url(settings.LOGIN_URL)
        if urlsplit(response.get("Location", "")).path != login:
            return response
        page = request.htmx.current_url_abs_path or "/"
        if not url_has_allowed_host_and_scheme(page, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
            page = "/"  # a path such as "//elsewhere" would name another site
        return HttpResponseClientRedirect(f"{login}?{urlencode({REDIRECT_FIELD_NAME: page})}")


class DatabaseUnavailableMiddleware:
    """A view that fails because the database cannot be reached (store.outage) answers 503 with
    Retry-After instead of a 500: nothing committed, so trying again is safe. (Failures in other
    middleware, before any view, reach handler500, which answers the same: store.api.errors.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if (failure := outage.unavailable_cause(exception)) is not None:
            return unavailable_response(request, failure)
        return None


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's session middleware, except that a session the database cannot save now answers
    503 with Retry-After (store.api.errors.unavailable_response) like any other outage.

    Django reports every failed save of an existing session as SessionInterrupted ("deleted
    before the request completed"), answered 400 with an ERROR line: the customer would see a
    bare "Bad Request" page, or nothing at all from an HTMX request. A session really deleted
    meanwhile (signed out in another tab) stays that 400."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        try:
            return super().process_response(request, response)
        except SessionInterrupted as interrupted:
            failure = outage.unavailable_cause(interrupted)
            if failure is None:
                raise
            return unavailable_response(request, failure)


# What a view sets on its response for a policy of its own (django-csp's decorators).
_OWN_POLICY = ("_csp_config", "_csp_update", "_csp_replace", "_csp_exempt",
               "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro", "_csp_exempt_ro")


class CSPMiddleware(csp.middleware.CSPMiddleware):
    """django-csp's middleware, with the settings' policy built once rather than for each response.

    A response with no policy of its own (no csp decorator on its view, no nonce asked for) gets
    the headers the settings' policies make, the same string every time; building it is a
    noticeable part of a cached page's cost. Any other response, and any policy that exempts
    some paths, is answered by django-csp itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(get_response)
        self._built: tuple[str, dict[str, str]] = ("", {})  # (the policies' repr, the headers they make)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        policies = repr((getattr(settings, "CONTENT_SECURITY_POLICY", None),
                         getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)))
        if (getattr(request, "_csp_nonce", None) is not None or any(hasattr(response, name) for name in _OWN_POLICY)
                or "EXCLUDE_URL_PREFIXES" in policies or (response.status_code in (404, 500) and settings.DEBUG)):
            return super().process_response(request, response)
        built, headers = self._built
        if built != policies:
            probe = super().process_response(request, HttpResponse())
            headers = {name: probe[name] for name in (HEADER, HEADER_REPORT_ONLY) if name in probe}
            self._built = (policies, headers)
        for name, value in headers.items():
            if name not in response:
                response[name] = value
        # As django-csp does: a nonce asked for after the headers were written is an error.
        request.csp_nonce = csp.middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response
