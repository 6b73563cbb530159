"""The Staff page, for the shop's owners (superusers) only: invite a person by e-mail with
roles, see every staff account with its roles and whether it is in, pending or deactivated,
change an account's roles, deactivate it, send a pending invitation again.

Roles are the groups of store.staff.ROLES; the writes are accounts.staff's. Anyone else who
opens the page is refused with a 403 page that says who manages staff. Owners' own accounts
are shown, read-only (they hold every permission; Users changes them).
"""
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import StaffMember
from accounts.staff import (
    invitation_email_refusal,
    invitation_pending,
    member_roles,
    role_groups,
    staff_invitation_resend,
    staff_invite,
    staff_update,
)
from backoffice.admin.base import BoundedChangeListMixin
from store.errors import ValidationFailed
from store.staff import ROLES

OWNERS_ONLY = "Only the shop's owners (superusers) manage staff: ask one of them to invite you or change your roles."


class RoleChoiceField(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, group: Group) -> str:
        return f"{group.name}: {ROLES[group.name].description}"


def roles_field(*, required: bool) -> RoleChoiceField:
    return RoleChoiceField(queryset=role_groups(), required=required, label="Roles",
                           help_text="Each role is a set of permissions; a person may have several.")


class StaffInviteForm(forms.ModelForm):
    roles = roles_field(required=True)

    class Meta:
        model = StaffMember
        fields = ("email", "name")
        help_texts = {"email": "The invitation goes here: a link to choose a password, good for a few days."}

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        refusal = invitation_email_refusal(email)
        if refusal:
            raise forms.ValidationError(refusal)
        return email

    def validate_unique(self) -> None:
        """Done by clean_email, for every spelling of the address, with one message."""


class StaffChangeForm(forms.ModelForm):
    roles = roles_field(required=False)

    class Meta:
        model = StaffMember
        fields = ("is_active",)
        labels = {"is_active": "Active"}
        help_texts = {"is_active": "Untick to deactivate: the person can no longer sign in (their sessions and API "
                                   "tokens stop working); what they did stays recorded."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].initial = [group for group in self.instance.groups.all() if group.name in ROLES]


class RoleFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "role"

    def lookups(self, request: HttpRequest, model_admin):
        return [(name, name) for name in sorted(ROLES)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(groups__name=self.value()) if self.value() in ROLES else queryset


@admin.register(StaffMember)
class StaffAdmin(BoundedChangeListMixin, admin.ModelAdmin):
    list_display = ("email", "name", "roles", "status", "last_login")
    list_filter = ("is_active", RoleFilter)
    search_fields = ("email", "name")
    ordering = ("email",)
    actions = ("deactivate", "invitation_send_again")
    readonly_fields = ("email", "name", "status", "last_login", "date_joined")

    # --- who: owners only ------------------------------------------------------------------

    def _owner(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._owner(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._owner(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._owner(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._owner(request) and not (obj is not None and obj.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # deactivate instead: orders, notes and the audit trail refer to the account

    def _refused(self, request: HttpRequest) -> HttpResponse:
        context = {**self.admin_site.each_context(request), "title": "You may not manage staff",
                   "refusal": OWNERS_ONLY}
        return TemplateResponse(request, "admin/accounts/staffmember/refused.html", context, status=403)

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        return super().changelist_view(request, extra_context) if self._owner(request) else self._refused(request)

    def changeform_view(self, request: HttpRequest, object_id=None, form_url="", extra_context=None) -> HttpResponse:
        if not self._owner(request):
            return self._refused(request)
        extra_context = {**(extra_context or {}), "show_save_and_add_another": False}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def history_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        return super().history_view(request, object_id, extra_context) if self._owner(request) else \
            self._refused(request)

    # --- the list --------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).filter(is_staff=True).prefetch_related("groups")

    @admin.display(description="roles")
    def roles(self, member: StaffMember) -> str:
        if member.is_superuser:
            return "Owner (every permission)"
        return ", ".join(member_roles(member)) or "—"

    @admin.display(description="status")
    def status(self, member: StaffMember) -> str:
        if not member.is_active:
            return "Deactivated" if member.has_usable_password() else \
                "Deactivated before choosing a password: reactivate, then send the invitation again"
        if invitation_pending(member):
            if member.invitation_undelivered_at is not None:
                return "Invited: e-mail not delivered — send again"
            return "Invited: has not chosen a password yet"
        return "Active"

    # --- the forms: invite, change ---------------------------------------------------------

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        kwargs["form"] = StaffChangeForm if obj is not None else StaffInviteForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ("email", "name", "roles")
        return ("email", "name", "status", "roles", "is_active", "last_login", "date_joined")

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return self.readonly_fields if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: StaffMember, form, change: bool) -> None:
        if change:
            staff_update(member=obj, roles=form.cleaned_data["roles"], active=form.cleaned_data["is_active"])
            return
        try:
            invited = staff_invite(email=form.cleaned_data["email"], name=form.cleaned_data["name"],
                                   roles=form.cleaned_data["roles"])
        except ValidationFailed as error:  # another owner invited the address since the form was checked
            self.message_user(request, f"Nobody was invited: {error.message}", messages.ERROR)
            return
        obj.pk, obj._state.adding, obj._state.db = invited.pk, False, invited._state.db

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        """The roles were given by the service (save_model)."""

    def log_addition(self, request: HttpRequest, obj, message):
        return super().log_addition(request, obj, message) if obj.pk is not None else None

    def response_add(self, request: HttpRequest, obj: StaffMember, post_url_continue=None) -> HttpResponse:
        if obj.pk is None:
            return HttpResponseRedirect(reverse("admin:accounts_staffmember_add"))
        self.message_user(request, format_html(
            "{} is invited as {}: an e-mail with a link to choose a password will be sent in a moment. They "
            "are listed as “Invited” until they do; if the e-mail cannot be delivered, this list says so.",
            obj.email, ", ".join(member_roles(obj))), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:accounts_staffmember_changelist"))

    # --- actions ---------------------------------------------------------------------------

    @admin.action(description="Deactivate selected staff", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for member in queryset.filter(is_active=True, is_superuser=False):
            staff_update(member=member, roles=[g for g in member.groups.all() if g.name in ROLES], active=False)
            done += 1
        skipped = queryset.count() - done
        self.message_user(request, f"Deactivated {done} staff account(s)." + (
            f" {skipped} left as they were (owners or already deactivated)." if skipped else ""), messages.SUCCESS)

    @admin.action(description="Send the invitation again to selected staff", permissions=["change"])
    def invitation_send_again(self, request: HttpRequest, queryset: QuerySet) -> None:
        members = list(queryset)
        sent = [member.email for member in members if staff_invitation_resend(member=member)]
        deactivated = sum(1 for member in members if not member.is_active)
        accepted = len(members) - len(sent) - deactivated
        self.message_user(request, " ".join(filter(None, [
            f"The invitation will be sent again to {len(sent)} person(s) in a moment." if sent else
            "No invitation was sent again.",
            f"{deactivated} deactivated account(s) skipped: reactivate them on their page first (tick Active), "
            "then send again." if deactivated else "",
            f"{accepted} skipped: they chose a password already." if accepted else ""])),
            messages.SUCCESS if sent else messages.WARNING)
