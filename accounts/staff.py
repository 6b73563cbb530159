"""Staff accounts: an owner (a superuser) invites a person by e-mail with one or more roles
(store.staff.ROLES, groups), the person sets their own password from the e-mailed link, and
the owner changes their roles or deactivates them. Writes and reads both live here; the
admin's Staff page (backoffice.admin.staff) only calls them.

An invited account is active staff without a usable password: nobody can sign in as it, and
the password-reset page never mails it (accounts.selectors.password_reset_accounts). Its link,
/accounts/staff/invitation/<uid>/<token>/, is Django's password-reset token made with a salt
of its own (a reset link is no invitation, nor the reverse), good for STAFF_INVITATION_TIMEOUT
seconds and only until a password is set (the token covers the password hash). Deactivating
the account stops its links (the token covers `is_active`: the link's page then says to ask the
shop's owner to reactivate the account); reactivating it does not revive them (a pending
invitee's unusable password is drawn afresh), so the owner sends the invitation again. When
the worker gives up e-mailing an invitation, the account records it
(`invitation_undelivered_at`) and the Staff page says so until it is sent again.
"""
import copy
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_encode

from accounts import signin
from accounts.models import User
from accounts.selectors import account_with_email
from accounts.signals import staff_invited
from accounts.validators import validate_email_one_script
from store.errors import ValidationFailed
from store.staff import ROLES

EMAIL_TAKEN = "A person with this e-mail address already has an account: {email}."
ROLES_REQUIRED = "Choose at least one role."
NOT_A_ROLE = "Not a staff role: {names}."


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset token with the invitation's salt and lifetime (STAFF_INVITATION_TIMEOUT)."""

    key_salt = "accounts.staff.InvitationTokenGenerator"

    VALID, USED, EXPIRED, DEACTIVATED, INVALID = "valid", "used", "expired", "deactivated", "invalid"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        return f"{super()._make_hash_value(user, timestamp)}{user.is_active}"

    def _genuine(self, user: User, token: str, made_at: int) -> bool:
        return any(constant_time_compare(self._make_token_with_timestamp(user, made_at, secret), token)
                   for secret in (self.secret, *self.secret_fallbacks))

    def state(self, user: User | None, token: str | None) -> str:
        """VALID; USED once the account has a password; EXPIRED when genuine but older than
        STAFF_INVITATION_TIMEOUT; DEACTIVATED when it was genuine until the account was
        deactivated; INVALID for anything else (wrong, tampered, another account's, made before
        the account was reactivated)."""
        if user is None or not token:
            return self.INVALID
        if user.has_usable_password():
            return self.USED
        try:
            made_at = base36_to_int(token.split("-")[0])
        except ValueError:
            return self.INVALID
        if not user.is_active:
            as_active = copy.copy(user)
            as_active.is_active = True
            return self.DEACTIVATED if self._genuine(as_active, token, made_at) else self.INVALID
        if not self._genuine(user, token, made_at):
            return self.INVALID
        if self._num_seconds(self._now()) - made_at > settings.STAFF_INVITATION_TIMEOUT:
            return self.EXPIRED
        return self.VALID

    def check_token(self, user, token) -> bool:
        return self.state(user, token) == self.VALID


invitation_tokens = InvitationTokenGenerator()


# --- reads ----------------------------------------------------------------------------------

def role_groups() -> QuerySet[Group]:
    """The roles' groups, in the table's order of names (alphabetical)."""
    return Group.objects.filter(name__in=ROLES).order_by("name")


def member_roles(user: User) -> list[str]:
    """The names of `user`'s roles (other groups they are in are not roles); from a prefetched
    `groups` when there is one."""
    return sorted(group.name for group in user.groups.all() if group.name in ROLES)


def invitation_pending(user: User) -> bool:
    """Invited and not yet in: active staff who have not set a password."""
    return user.is_staff and user.is_active and not user.has_usable_password()


def invitation_path(*, user: User) -> str:
    """"/accounts/staff/invitation/<uid>/<token>/", good for STAFF_INVITATION_TIMEOUT s from now."""
    return reverse("accounts:staff_invitation", kwargs={
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": invitation_tokens.make_token(user)})


def invitation_account(*, user_id: int) -> User | None:
    """The account an invitation e-mail goes to, if it still waits for one (invitation_pending)."""
    user = User.objects.filter(pk=user_id).first()
    return user if user is not None and invitation_pending(user) else None


def owner_change_refusal(*, actor: User, account: User, active: bool, superuser: bool) -> str:
    """Why `actor` may not leave `account` active=`active`, superuser=`superuser` ("" if they
    may): nobody deactivates their own account or removes their own superuser status, and the
    shop keeps at least one active owner (superuser), who alone manages staff."""
    if account.pk == actor.pk and account.is_active and not active:
        return "You cannot deactivate your own account: another owner (superuser) can."
    if account.pk == actor.pk and account.is_superuser and not superuser:
        return "You cannot remove your own superuser status: another owner (superuser) can."
    if account.is_active and account.is_superuser and not (active and superuser) and \
            not User.objects.filter(is_active=True, is_superuser=True).exclude(pk=account.pk).exists():
        return (f"{account.email} is the shop's last active owner (superuser): make another account an owner "
                "first, then change this one.")
    return ""


def owners_removal_refusal(*, accounts: Iterable[User]) -> str:
    """Why `accounts` may not be deleted together ("" if they may): it would leave the shop
    without an active owner (superuser)."""
    ids = [account.pk for account in accounts]
    owners = User.objects.filter(is_active=True, is_superuser=True)
    if owners.filter(pk__in=ids).exists() and not owners.exclude(pk__in=ids).exists():
        last = ", ".join(owners.filter(pk__in=ids).order_by("email").values_list("email", flat=True))
        return (f"{last}: the shop's last active owner (superuser) cannot be deleted; make another account an "
                "owner first.")
    return ""


def invitation_email_refusal(email: str) -> str:
    """Why `email` cannot be invited ("" if it can): an address mixing alphabets, as lookalikes
    do, or one that already has an account under any spelling of it (accounts.selectors.
    account_with_email); the message names that account's address."""
    try:
        validate_email_one_script(email)
    except DjangoValidationError as error:
        return error.messages[0]
    taken = account_with_email(email=email)
    return EMAIL_TAKEN.format(email=taken.email) if taken is not None else ""


# --- writes ---------------------------------------------------------------------------------

def _roles_checked(roles: Iterable[Group]) -> list[Group]:
    roles = list(roles)
    strangers = sorted(group.name for group in roles if group.name not in ROLES)
    if strangers:
        message = NOT_A_ROLE.format(names=", ".join(strangers))
        raise ValidationFailed(message, fields={"roles": [message]})
    return roles


def _invitation_announce(user: User) -> None:
    # After the commit: the worker that sends the e-mail must find the account.
    transaction.on_commit(lambda: staff_invited.send(sender=User, user_id=user.pk), robust=True)


def staff_invite(*, email: str, name: str, roles: Iterable[Group]) -> User:
    """Create an active staff account for `email` without a usable password, in `roles` (the
    roles' groups, at least one), and e-mail it an invitation once committed. ValidationFailed
    (nothing written) names the field: an address that already has an account under any
    spelling or mixes alphabets (invitation_email_refusal), no role, a group that is not a role."""
    email, name = signin.email_normalize(email), name.strip()
    roles = _roles_checked(roles)
    if not roles:
        raise ValidationFailed(ROLES_REQUIRED, fields={"roles": [ROLES_REQUIRED]})
    refusal = invitation_email_refusal(email)
    if refusal:
        raise ValidationFailed(refusal, fields={"email": [refusal]})
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=None, name=name, is_staff=True)
            user.groups.add(*roles)
    except IntegrityError:  # created by a concurrent request since the check above
        message = EMAIL_TAKEN.format(email=email)
        raise ValidationFailed(message, fields={"email": [message]}) from None
    _invitation_announce(user)
    return user


def staff_invitation_resend(*, member: User) -> bool:
    """E-mail `member` a fresh invitation link once committed; False (nothing sent) unless the
    invitation is still pending (invitation_pending): a deactivated invitee is reactivated first,
    on their page. Earlier links keep working until they expire. Forgets an earlier undelivered
    e-mail (the Staff page then says the invitation will be sent)."""
    if not invitation_pending(member):
        return False
    User.objects.filter(pk=member.pk).update(invitation_undelivered_at=None)
    _invitation_announce(member)
    return True


def staff_invitation_delivery_record(*, user_id: int, delivered: bool) -> None:
    """The worker's word on account `user_id`'s invitation e-mail: sent (`delivered`), or given up
    after its tries (the Staff page shows "e-mail not delivered — send again")."""
    User.objects.filter(pk=user_id).update(invitation_undelivered_at=None if delivered else timezone.now())


def staff_update(*, member: User, roles: Iterable[Group], active: bool) -> User:
    """Give staff member `member` exactly `roles` among the roles (other groups stay) and make
    the account active or not: a deactivated account cannot sign in, its sessions and API
    tokens stop working, and what it did stays recorded. Owners (superusers) are not changed
    here. ValidationFailed for a group that is not a role or for an owner's account."""
    roles = _roles_checked(roles)
    if member.is_superuser:
        message = "An owner's account (superuser) holds every permission: change it in Users."
        raise ValidationFailed(message)
    with transaction.atomic():
        # The row as stored (the caller's instance may carry unsaved changes), locked against another owner.
        member = User.objects.select_for_update().get(pk=member.pk)
        member.groups.remove(*[group for group in member.groups.all() if group.name in ROLES and group not in roles])
        member.groups.add(*roles)
        if member.is_active != active:
            if active and not member.has_usable_password():
                member.set_unusable_password()  # a fresh one: links sent before the deactivation stay dead
            member.is_active = active
            member.save(update_fields=["is_active", "password"])
    return member
