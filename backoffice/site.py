"""The store's admin site: Django's, branded, with its password checks guarded like every other.

It is the default site (backoffice.apps.StoreAdminConfig), so `admin.site` and `@admin.register`
work as usual. /admin/login/ uses accounts' AdminLoginForm, and "Change password" checks the
current password the same way: the per-address limit and the per-account lockout of the
storefront and the API (accounts.signin), refused with 429.

Staff who must give a second factor (store.permissions.second_factor_missing) reach no admin page
before they have: the sign-in sends them on to their code, or to set up their authenticator app
the first time (accounts.second_factor_views), and then to the page they asked for.
"""
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from accounts import signin
from accounts.forms import AdminGuardedPasswordChangeForm, AdminLoginForm
from accounts.views import GuardedPasswordChangeMixin
from store import permissions


class AdminPasswordChangeView(GuardedPasswordChangeMixin, auth_views.PasswordChangeView):
    form_class = AdminGuardedPasswordChangeForm


class StoreAdminSite(admin.AdminSite):
    site_header = "Workflow Store admin"
    site_title = "Workflow Store admin"
    index_title = "Run the shop"
    login_form = AdminLoginForm

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and not permissions.second_factor_missing(request.user)

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if request.user.is_authenticated and permissions.second_factor_missing(request.user):
            return self._second_factor_redirect(request, request.GET.get("next", ""))
        response = super().login(request, extra_context)
        # Just signed in with the password (request.user is the account itself now): never verified yet.
        if request.method == "POST" and response.status_code == 302 and request.user.is_authenticated \
                and permissions.second_factor_needed(request.user):
            return self._second_factor_redirect(request, response["Location"])
        form = (getattr(response, "context_data", None) or {}).get("form")
        return signin.refusal_status(response, getattr(form, "refusal", None))

    def _second_factor_redirect(self, request: HttpRequest, next_url: str) -> HttpResponse:
        return HttpResponseRedirect(
            f"{reverse('accounts:second_factor_verify')}?{urlencode({'next': next_url or reverse('admin:index')})}")

    def password_change(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        """Django's own view and template, with the guarded form (AdminSite.password_change, adapted)."""
        request.current_app = self.name
        return AdminPasswordChangeView.as_view(
            success_url=reverse("admin:password_change_done", current_app=self.name),
            extra_context={**self.each_context(request), **(extra_context or {})},
        )(request)
