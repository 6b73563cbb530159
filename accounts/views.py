"""Account pages: register, log in, log out (POST), profile. Thin over accounts.services."""
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse_lazy
from django.views.generic import FormView

from accounts import services
from accounts.forms import EmailAuthenticationForm, ProfileForm, RegisterForm
from store.errors import ValidationFailed


class LoginView(auth_views.LoginView):
    """Sign in with e-mail and password, then go back to ?next= (same host only) or the catalog."""

    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

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


class RegisterView(auth_views.RedirectURLMixin, FormView):
    """Create an account, sign it in and continue to ?next= or the catalog."""

    template_name = "accounts/register.html"
    form_class = RegisterForm
    next_page = settings.LOGIN_REDIRECT_URL

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            return redirect(self.get_success_url())
        return super().dispatch(request, *args, **kwargs)

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
    """The signed-in user's e-mail and name; the name can be changed."""

    template_name = "accounts/profile.html"
    form_class = ProfileForm
    success_url = reverse_lazy("accounts:profile")

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "instance": self.request.user}

    def form_valid(self, form: ProfileForm) -> HttpResponse:
        services.user_update_profile(user=self.request.user, name=form.cleaned_data["name"])
        messages.success(self.request, "Your profile has been updated.")
        return super().form_valid(form)
