"""Users, groups and failed sign-ins in the admin: Django's, adapted to the e-mail login and the
full name, each account linked to its customer page (orders, spend, notes) for staff who may
see orders.

Only superusers grant: staff status, superuser status, groups and permissions, and the
groups' permissions. Employees are set up on the Staff page (backoffice.admin.staff) with
roles; the raw groups and permissions here stay for the exceptions, and the role groups'
permissions are the table's (store.staff.ROLES), shown read-only. Staff who manage accounts
(accounts.change_user) look after customers: they cannot change a staff account, its password
or e-mail included, so they cannot raise their own rights or take over someone else's.
"""
from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse, reverse_lazy
from django.utils.html import format_html
from django.utils.text import format_lazy

from accounts.forms import AdminUserAddForm, AdminUserChangeForm
from accounts.models import User
from accounts.staff import owners_removal_refusal
from backoffice.admin.base import BoundedChangeListMixin
from backoffice.admin.customers import customer_page_url
from store import permissions
from store.audit import staff_action_record
from store.staff import ROLES

STAFF_PAGE_HINT = format_lazy(
    'To set up an employee, invite them from the <a href="{}">Staff page</a> with their roles; the '
    "person chooses their own password. Groups and single permissions here are for exceptions.",
    reverse_lazy("admin:accounts_staffmember_changelist"))


@admin.register(User)
class UserAdmin(BoundedChangeListMixin, DjangoUserAdmin):
    form = AdminUserChangeForm
    add_form = AdminUserAddForm
    list_display = ("email", "name", "is_staff", "is_active", "date_joined", "customer_page")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("email", "name")
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined", "customer_page")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("name",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions"),
                         "description": STAFF_PAGE_HINT}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
        ("Orders", {"fields": ("customer_page",)}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "name", "usable_password", "password1", "password2")}),
    )
    GRANTING_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")

    def get_form(self, request: HttpRequest, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user}) if obj is not None else form

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        """Refused with a message, back on the account's page, for the last active owner."""
        account = self.get_object(request, unquote(object_id))
        refusal = owners_removal_refusal(accounts=[account]) if account is not None else ""
        if refusal:
            self.message_user(request, refusal, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:accounts_user_change", args=[account.pk]))
        return super().delete_view(request, object_id, extra_context)

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            delete, name, description = actions["delete_selected"]

            def delete_selected(modeladmin, request, queryset):
                refusal = owners_removal_refusal(accounts=queryset)
                if refusal:
                    modeladmin.message_user(request, f"Nobody was deleted: {refusal}", messages.ERROR)
                    return None
                return delete(modeladmin, request, queryset)

            delete_selected.allowed_permissions = getattr(delete, "allowed_permissions", ("delete",))
            actions["delete_selected"] = (delete_selected, name, description)
        return actions

    def get_list_display(self, request: HttpRequest):
        """The link to each account's customer page, for staff who may see orders."""
        shown = super().get_list_display(request)
        may_see_orders = permissions.can(request.user, permissions.ORDER_VIEW)
        return shown if may_see_orders else tuple(name for name in shown if name != "customer_page")

    def get_fieldsets(self, request: HttpRequest, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        return fieldsets if obj is not None and permissions.can(request.user, permissions.ORDER_VIEW) else \
            [fieldset for fieldset in fieldsets if fieldset[0] != "Orders"]

    @admin.display(description="customer page")
    def customer_page(self, user: User) -> str:
        if user.pk is None:
            return "—"
        return format_html('<a href="{}">Orders, spend and notes</a>', customer_page_url(user.pk))

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
    """Groups carry permissions: only superusers create, change or delete them; staff may look.
    The staff roles' groups are nobody's to change here: their permissions are declared in
    store.staff.ROLES and set again on every migrate."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser and not (obj is not None and obj.name in ROLES)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser and not (obj is not None and obj.name in ROLES)


admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class SignInFailuresAdmin(AccessAttemptAdmin):
    """django-axes' failed sign-ins. Deleting them lifts an account's lock: a staff action, so each
    is recorded in the audit trail ("unlock")."""

    def delete_model(self, request: HttpRequest, obj: AccessAttempt) -> None:
        self._record_unlock(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._record_unlock(request, list(queryset))
        super().delete_queryset(request, queryset)

    def _record_unlock(self, request: HttpRequest, attempts: list[AccessAttempt]) -> None:
        for attempt in attempts:
            staff_action_record(
                actor=request.user, obj=attempt, action="unlock",
                changes={"failures_since_start": [str(attempt.failures_since_start), "0"]},
                detail={"username": attempt.username},
            )
