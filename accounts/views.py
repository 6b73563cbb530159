"""Account pages: register, log in, log out (POST), profile and address book, change and reset the password.

Thin over accounts.services and Django's own auth views. A password change or reset signs
the account out everywhere else: other browsers' sessions and every API token issued before.
"""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods, require_POST
from django.views.generic import FormView

from accounts import selectors, services, signin
from accounts.forms import AddressForm, EmailAuthenticationForm, GuardedPasswordChangeForm, ProfileForm, RegisterForm
from accounts.models import Address
from store import throttling
from store.errors import NotFound, ValidationFailed


class RateLimitedFormMixin:
    """Answers a POST that a rate limit refuses with the form, the reason and 429 (store.throttling)."""

    def refused(self, refusal: throttling.Refusal, *, keep: tuple[str, ...]) -> HttpResponse:
        # An unbound form (nothing of a refused request is checked), keeping what the user typed.
        kwargs = self.get_form_kwargs()
        kwargs.pop("data", None)
        kwargs.pop("files", None)
        kwargs["initial"] = {name: self.request.POST.get(name, "") for name in keep}
        form = self.get_form_class()(**kwargs)
        form.cleaned_data = {}
        form.add_error(None, refusal.message)
        response = self.render_to_response(self.get_context_data(form=form), status=429)
        response["Retry-After"] = str(refusal.retry_after)
        return response


class LoginView(auth_views.LoginView):
    """Sign in with e-mail and password, then go back to ?next= (same host only) or the catalog.

    Guarded like every sign-in (accounts.signin): per address, and per account once it is
    locked out after failed sign-ins; a refusal shows the form with the reason and answers 429.
    """

    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form: EmailAuthenticationForm) -> HttpResponse:
        return signin.refusal_status(super().form_invalid(form), form.refusal)

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, f"Welcome back, {form.get_user().get_short_name()}.")
        return response


class LogoutView(auth_views.LogoutView):
    """Sign out; POST only (Django answers GET with 405), so a link or prefetch cannot sign anyone out."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You have been signed out.")
        return response


class RegisterView(RateLimitedFormMixin, auth_views.RedirectURLMixin, FormView):
    """Create an account, sign it in and continue to ?next= or the catalog (RATE_LIMITS['REGISTER'] per address)."""

    template_name = "accounts/register.html"
    form_class = RegisterForm
    next_page = settings.LOGIN_REDIRECT_URL

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            return redirect(self.get_success_url())
        return super().dispatch(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if refusal := throttling.address_refusal(request, "REGISTER"):
            return self.refused(refusal, keep=("email", "name"))
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: RegisterForm) -> HttpResponse:
        try:
            user = services.user_register(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                name=form.cleaned_data["name"],
            )
        except ValidationFailed as error:
            for field, field_errors in (error.fields or {"__all__": [error.message]}).items():
                for message in field_errors:
                    form.add_error(field if field in form.fields else None, message)
            return self.form_invalid(form)
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(self.request, f"Welcome, {user.get_short_name()}! Your account is ready.")
        return redirect(self.get_success_url())

    def get_context_data(self, **kwargs) -> dict:
        return {**super().get_context_data(**kwargs), "next": self.get_redirect_url()}


class ProfileView(LoginRequiredMixin, FormView):
    """The signed-in user's e-mail and name (the name can be changed) and their address book."""

    template_name = "accounts/profile.html"
    form_class = ProfileForm
    success_url = reverse_lazy("accounts:profile")

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "instance": self.request.user}

    def get_context_data(self, **kwargs) -> dict:
        return {**super().get_context_data(**kwargs), "addresses": selectors.address_list(user=self.request.user)}

    def form_valid(self, form: ProfileForm) -> HttpResponse:
        services.user_update_profile(user=self.request.user, name=form.cleaned_data["name"])
        messages.success(self.request, "Your profile has been updated.")
        return super().form_valid(form)


class GuardedPasswordChangeMixin:
    """For Django's PasswordChangeView: the form checks the current password like a sign-in
    (GuardedPasswordChangeForm), and a refusal answers 429 with Retry-After."""

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "request": self.request}

    def form_invalid(self, form: GuardedPasswordChangeForm) -> HttpResponse:
        return signin.refusal_status(super().form_invalid(form), form.refusal)


class PasswordChangeView(GuardedPasswordChangeMixin, auth_views.PasswordChangeView):
    """Change the password (the current one first, checked like a sign-in); this browser stays
    signed in, no other browser or API token does."""

    template_name = "accounts/password_change.html"
    form_class = GuardedPasswordChangeForm
    success_url = reverse_lazy("accounts:profile")

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(
            self.request, "Your password has been changed. Other browsers and apps signed in as you were signed out."
        )
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Ask for a reset link by e-mail; RATE_LIMITS['PASSWORD_RESET'] per address. The form only
    queues the e-mail's task with the address entered (services.password_reset_request): the
    worker looks the address up and sends the link, so the answer is the same page, in the same
    time, whether or not the address has an account (it must not tell who is a customer)."""

    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password_reset_sent")

    def form_valid(self, form) -> HttpResponse:
        if refusal := throttling.address_refusal(self.request, "PASSWORD_RESET"):
            form.add_error(None, refusal.message)
            return signin.refusal_status(self.form_invalid(form), refusal)
        services.password_reset_request(email=form.cleaned_data["email"])
        return redirect(self.get_success_url())


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Set a new password from the e-mailed link (good once, for PASSWORD_RESET_TIMEOUT seconds).

    The account is unlocked too: whoever reads its mail may try signing in again.
    """

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        signin.failures_forget(form.user.email)
        return response


# --- the address book (listed on the profile page) ------------------------------------------

def _own_address(request: HttpRequest, address_id: int) -> Address:
    try:
        return selectors.address_get(user=request.user, address_id=address_id)
    except NotFound as error:
        raise Http404(error.message) from None


def _address_form_page(request: HttpRequest, form: AddressForm, address: Address | None) -> HttpResponse:
    return render(request, "accounts/address_form.html", {"form": form, "address": address},
                  status=400 if form.is_bound else 200)


@login_required
@require_http_methods(["GET", "POST"])
def address_add(request: HttpRequest) -> HttpResponse:
    form = AddressForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in services.ADDRESS_FIELDS}
        try:
            address = services.address_create(user=request.user, **fields, is_default=form.cleaned_data["is_default"])
        except ValidationFailed as error:
            _errors_onto(form, error)
        else:
            messages.success(request, f"\u201c{address.label}\u201d was added to your address book.")
            return redirect("accounts:profile")
    return _address_form_page(request, form, None)


@login_required
@require_http_methods(["GET", "POST"])
def address_edit(request: HttpRequest, address_id: int) -> HttpResponse:
    address = _own_address(request, address_id)
    form = AddressForm(request.POST if request.method == "POST" else None, instance=address)
    if form.is_bound and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in services.ADDRESS_FIELDS}
        # Unticking "default" on the default leaves the book without one; ticking it moves it here.
        try:
            address = services.address_update(address=address, changes=changes,
                                              is_default=form.cleaned_data["is_default"])
        except ValidationFailed as error:
            _errors_onto(form, error)
        else:
            messages.success(request, f"\u201c{address.label}\u201d was saved.")
            return redirect("accounts:profile")
    return _address_form_page(request, form, address)


@login_required
@require_POST
def address_delete(request: HttpRequest, address_id: int) -> HttpResponse:
    address = _own_address(request, address_id)
    services.address_delete(address=address)
    messages.success(request, f"\u201c{address.label}\u201d was deleted from your address book.")
    return redirect("accounts:profile")


@login_required
@require_POST
def address_make_default(request: HttpRequest, address_id: int) -> HttpResponse:
    address = services.address_make_default(address=_own_address(request, address_id))
    messages.success(request, f"\u201c{address.label}\u201d is now your default address.")
    return redirect("accounts:profile")


def _errors_onto(form, error: ValidationFailed) -> None:
    for field, field_errors in (error.fields or {"__all__": [error.message]}).items():
        for message in field_errors:
            form.add_error(field if field in form.fields else None, message)
