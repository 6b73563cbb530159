"""Users and groups in the admin: Django's, adapted to the e-mail login and the full name.

Only superusers grant: staff status, superuser status, groups and permissions, and the
groups' permissions. Staff who manage accounts (accounts.change_user) look after customers:
they cannot change a staff account, its password or e-mail included, so they cannot raise
their own rights or take over someone else's.
"""
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest

from accounts.forms import AdminUserAddForm, AdminUserChangeForm
from accounts.models import User
from store.admin import BoundedChangeListMixin


@admin.register(User)
class UserAdmin(BoundedChangeListMixin, DjangoUserAdmin):
    form = AdminUserChangeForm
    add_form = AdminUserAddForm
    list_display = ("email", "name", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("email", "name")
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("name",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "name", "usable_password", "password1", "password2")}),
    )
    GRANTING_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return readonly if request.user.is_superuser else (*readonly, *self.GRANTING_FIELDS)

    def _staff_account_of_another_kind(self, request: HttpRequest, obj) -> bool:
        return obj is not None and (obj.is_staff or obj.is_superuser) and not request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Also guards the "change password" page, which asks this for the account.
        return super().has_change_permission(request, obj) and not self._staff_account_of_another_kind(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and not self._staff_account_of_another_kind(request, obj)


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    """Groups carry permissions: only superusers create, change or delete them; staff may look."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser
