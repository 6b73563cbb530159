"""Reads for accounts: a customer's address book, always scoped to its owner; who a
password-reset e-mail goes to, and the link in it."""
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import Address, User
from accounts.validators import email_key, email_spellings
from store.errors import NotFound


def account_with_email(*, email: str) -> User | None:
    """The account that already has `email` or a spelling of it that is the same address
    (accounts.validators.email_key: case, Unicode compatibility forms, the domain's IDNA form)."""
    key = email_key(email)
    for account in User.objects.filter(email__in=email_spellings(email)).order_by("pk"):
        if email_key(account.email) == key:
            return account
    return None


def address_list(*, user: User) -> QuerySet[Address]:
    """`user`'s addresses: the default first, then by label."""
    return Address.objects.filter(user=user)


def address_get(*, user: User, address_id: int) -> Address:
    """One of `user`'s addresses; NotFound (404) for another customer's, as for one that does not exist."""
    try:
        return Address.objects.get(user=user, pk=address_id)
    except (Address.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound(f"Address {address_id} was not found.") from None


def password_reset_accounts(*, email: str) -> list[User]:
    """The accounts a password reset asked for `email` goes to: active, with a usable password,
    their address equal to `email` ignoring case (Django's PasswordResetForm.get_users). Usually
    none or one."""
    return list(PasswordResetForm().get_users(email))


def password_reset_path(*, user: User) -> str:
    """The path of `user`'s reset link, "/accounts/password/reset/<uid>/<token>/": the token is
    good once (it changes with the password) for PASSWORD_RESET_TIMEOUT seconds from now."""
    return reverse("accounts:password_reset_confirm", kwargs={
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": default_token_generator.make_token(user)})
