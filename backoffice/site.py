"""The store's admin site: Django's, branded, with its password checks guarded like every other.

It is the default site (backoffice.apps.StoreAdminConfig), so `admin.site` and `@admin.register`
work as usual. /admin/login/ uses accounts' AdminLoginForm, and "Change password" checks the
current password the same way: the per-address limit and the per-account lockout of the
storefront and the API (accounts.signin), refused with 429.
"""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from accounts import signin
from accounts.forms import AdminGuardedPasswordChangeForm, AdminLoginForm
from accounts.views import GuardedPasswordChangeMixin


class AdminPasswordChangeView(GuardedPasswordChangeMixin, auth_views.PasswordChangeView):
    form_class = AdminGuardedPasswordChangeForm


class StoreAdminSite(admin.AdminSite):
    site_header = "Workflow Store admin"
    site_title = "Workflow Store admin"
    index_title = "Run the shop"
    login_form = AdminLoginForm

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        return signin.refusal_status(response, getattr(form, "refusal", None))

    def password_change(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        """Django's own view and template, with the guarded form (AdminSite.password_change, adapted)."""
        request.current_app = self.name
        return AdminPasswordChangeView.as_view(
            success_url=reverse("admin:password_change_done", current_app=self.name),
            extra_context={**self.each_context(request), **(extra_context or {})},
        )(request)
