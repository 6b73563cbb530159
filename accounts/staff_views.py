"""The invited staff member's pages: choose a password from the invitation link, then sign in
to the admin. Django's PasswordResetConfirmView with the invitation's token (accounts.staff)."""
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import reverse_lazy
from django.views.generic import TemplateView

from accounts import signin
from accounts.staff import invitation_tokens


class StaffInvitationView(auth_views.PasswordResetConfirmView):
    """The link's page: a form to choose a password while the invitation is good, else why it
    no longer works (used: sign in; expired: ask an owner to send it again; deactivated: ask
    the shop's owner to reactivate the account). Only a staff account has an invitation."""

    template_name = "accounts/staff_invitation.html"
    token_generator = invitation_tokens
    success_url = reverse_lazy("accounts:staff_invitation_done")

    def get_user(self, uidb64: str):
        user = super().get_user(uidb64)
        return user if user is not None and user.is_staff else None  # inactive: the token says DEACTIVATED

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        token = self.kwargs.get("token")
        if token == self.reset_url_token:
            token = self.request.session.get(auth_views.INTERNAL_RESET_SESSION_TOKEN)
        context["link_state"] = invitation_tokens.state(self.user, token)
        return context

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        signin.failures_forget(form.user.email)
        return response


class StaffInvitationDoneView(TemplateView):
    template_name = "accounts/staff_invitation_done.html"
