"""The second factor's pages for staff (/accounts/second-factor/…), in the admin's look.

- set-up: the authenticator app's QR code and secret, confirmed by one code; then the recovery
  codes, shown once;
- verify: the code after the password (the admin sends staff here when they must give one);
- recovery codes: how many are left, and new ones replacing the rest (for a session that gave
  its second factor; linked from the admin's header).

Thin over accounts.second_factor. Each page goes on to `?next=` (this site only) or the admin.
Refusals: a wrong code 400 with the form's message, a throttled device 429 with Retry-After.
"""
from urllib.parse import urlencode

import segno
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts import second_factor
from store.errors import TooManyAttempts


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code", max_length=32,
        help_text="The 6-digit code your authenticator app shows, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false",
                                      "autocapitalize": "none"}),
    )


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return reverse("admin:index")


def _with_next(name: str, request: HttpRequest) -> str:
    return f"{reverse(name)}?{urlencode({'next': _next_url(request)})}"


def _page(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    base = {**admin.site.each_context(request), "is_nav_sidebar_enabled": False, "next": _next_url(request)}
    return render(request, template, {**base, **context}, status=status)


def _staff_only(view):
    """Signed-in staff only: anyone else signs in through the admin first (404 for customers)."""

    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not (request.user.is_active and request.user.is_staff):
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _refused(form: CodeForm, error: Exception) -> int:
    """Put the refusal on the form; the status the page answers with."""
    form.add_error("code", error.message)
    return 429 if isinstance(error, TooManyAttempts) else 400


def _retry_after(response: HttpResponse, error: Exception) -> HttpResponse:
    if isinstance(error, TooManyAttempts):
        response["Retry-After"] = str(error.retry_after)
    return response


@never_cache
@require_http_methods(["GET", "POST"])
@_staff_only
def setup(request: HttpRequest) -> HttpResponse:
    """Add the shop to an authenticator app and confirm it with a code; then the recovery codes."""
    user = request.user
    if second_factor.is_enrolled(user):
        return redirect(_with_next("accounts:second_factor_verify", request))
    device = second_factor.enrolment_start(user=user, session_key=request.session.session_key)
    form = CodeForm(request.POST if request.method == "POST" else None)
    status, error = 200, None
    if form.is_bound and form.is_valid():
        try:
            device, codes = second_factor.enrolment_confirm(
                user=user, session_key=request.session.session_key, code=form.cleaned_data["code"])
        except (second_factor.WrongCode, TooManyAttempts) as refusal:
            status, error = _refused(form, refusal), refusal
        else:
            second_factor.session_verify(request, device)
            return _page(request, "accounts/second_factor_recovery_codes.html",
                         {"title": "Your recovery codes", "codes": codes, "enrolled": True})
    elif form.is_bound:
        status = 400
    qr = segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2, dark="#000", light="#fff")
    response = _page(request, "accounts/second_factor_setup.html", {
        "title": "Set up your second factor", "form": form, "qr": qr,
        "secret": second_factor.secret_text(device),
    }, status=status)
    return _retry_after(response, error)


@never_cache
@require_http_methods(["GET", "POST"])
@_staff_only
def verify(request: HttpRequest) -> HttpResponse:
    """The code after the password: then on to `next`."""
    user = request.user
    if not second_factor.is_enrolled(user):
        return redirect(_with_next("accounts:second_factor_setup", request))
    if user.is_verified():
        return redirect(_next_url(request))
    form = CodeForm(request.POST if request.method == "POST" else None)
    status, error = 200, None
    if form.is_bound and form.is_valid():
        try:
            device = second_factor.code_check(user=user, code=form.cleaned_data["code"])
        except (second_factor.WrongCode, TooManyAttempts) as refusal:
            status, error = _refused(form, refusal), refusal
        else:
            second_factor.session_verify(request, device)
            if device.persistent_id.startswith("otp_static."):
                left = second_factor.recovery_codes_left(user)
                messages.warning(request, f"You signed in with a recovery code; {left} left. Make new ones "
                                          "under “Recovery codes” when you run low.")
            return redirect(_next_url(request))
    elif form.is_bound:
        status = 400
    response = _page(request, "accounts/second_factor_verify.html",
                     {"title": "Enter your code", "form": form}, status=status)
    return _retry_after(response, error)


@never_cache
@require_http_methods(["GET", "POST"])
@_staff_only
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """How many recovery codes are left, and new ones on POST (replacing the rest); only for a
    session that gave its second factor."""
    if not second_factor.is_enrolled(request.user):
        return redirect(_with_next("accounts:second_factor_setup", request))
    if not request.user.is_verified():
        return redirect(f"{reverse('accounts:second_factor_verify')}?{urlencode({'next': request.path})}")
    if request.method == "POST":
        codes = second_factor.recovery_codes_renew(user=request.user)
        return _page(request, "accounts/second_factor_recovery_codes.html",
                     {"title": "Your recovery codes", "codes": codes, "enrolled": False})
    return _page(request, "accounts/second_factor_recovery_left.html",
                 {"title": "Recovery codes", "left": second_factor.recovery_codes_left(request.user)})
