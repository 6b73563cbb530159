"""Writes for accounts: registering a customer, signing in, editing the profile, passwords, JWTs.

JWTs (simplejwt) are revocable: a refresh token is good for one refresh (then blacklisted,
`token_refresh`), logout blacklists it (`token_revoke`), and every token carries a digest of
the password hash it was issued under (settings.SIMPLE_JWT["CHECK_REVOKE_TOKEN"]), so a
password change or reset, on any surface, revokes every token issued before it, as it signs
out the user's web sessions (Django checks sessions against the same hash).
"""
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch, get_md5_hash_password

from accounts import signin
from accounts.models import User
from store.api.authentication import MALFORMED_CLAIMS, user_id_from_claims
from store.errors import DomainError, TooManyAttempts, ValidationFailed

EMAIL_TAKEN = "An account with this e-mail address already exists."
NAME_REQUIRED = "Please enter your name."


class InvalidCredentials(DomainError):
    """Sign-in refused: unknown e-mail, wrong password, inactive account or a bad token."""

    status = 401
    code = "invalid_credentials"


def user_register(*, email: str, password: str, name: str) -> User:
    """Create an active customer account; ValidationFailed names every field that is wrong."""
    email, name = signin.email_normalize(email), name.strip()
    errors: dict[str, list[str]] = {}
    if User.objects.filter(email=email).exists():
        errors["email"] = [EMAIL_TAKEN]
    if not name:
        errors["name"] = [NAME_REQUIRED]
    try:
        password_validation.validate_password(password, user=User(email=email, name=name))
    except DjangoValidationError as error:
        errors["password"] = list(error.messages)
    if errors:
        raise ValidationFailed(next(iter(errors.values()))[0], fields=errors)
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, name=name)
    except IntegrityError:  # registered by a concurrent request since the check above
        raise ValidationFailed(EMAIL_TAKEN, fields={"email": [EMAIL_TAKEN]}) from None


def user_authenticate(*, email: str, password: str, request: HttpRequest) -> User:
    """Sign in to the API: the active user with this e-mail and password.

    Guarded like every sign-in (accounts.signin.authenticate_guarded): TooManyAttempts (429)
    while the account is locked, InvalidCredentials (401) for a wrong password, which counts
    against the account. A success forgets the account's earlier failures, as a page sign-in
    does. `request` is the HTTP request.
    """
    user, refusal = signin.authenticate_guarded(request, email, password)
    if refusal is not None:
        raise TooManyAttempts(refusal.message, retry_after=refusal.retry_after)
    if user is None:
        raise InvalidCredentials("Incorrect e-mail address or password.")
    signin.failures_forget(user.email)
    return user


def user_update_profile(*, user: User, name: str) -> User:
    """Change the user's full name (the e-mail is the login and stays)."""
    name = name.strip()
    if not name:
        raise ValidationFailed(NAME_REQUIRED, fields={"name": [NAME_REQUIRED]})
    user.name = name
    user.save(update_fields=["name"])
    return user


def user_password_change(*, user: User, current_password: str, new_password: str, request: HttpRequest) -> User:
    """Set a new password after checking the current one like a sign-in (wrong guesses count
    against the account; TooManyAttempts while it is locked); every earlier JWT and web session
    of the user stops working. ValidationFailed names the field that is wrong."""
    confirmed, refusal = signin.authenticate_guarded(request, user.email, current_password)
    if refusal is not None:
        raise TooManyAttempts(refusal.message, retry_after=refusal.retry_after)
    if confirmed is None or confirmed.pk != user.pk:
        message = "Your current password is incorrect."
        raise ValidationFailed(message, fields={"currentPassword": [message]})
    try:
        password_validation.validate_password(new_password, user=user)
    except DjangoValidationError as error:
        raise ValidationFailed(error.messages[0], fields={"newPassword": list(error.messages)}) from None
    user.set_password(new_password)
    user.save(update_fields=["password"])
    return user


def tokens_issue(*, user: User) -> dict[str, str]:
    """A fresh JWT pair for the API: {"token": access, "refresh": refresh} (the refresh token is recorded)."""
    refresh = RefreshToken.for_user(user)
    return {"token": str(refresh.access_token), "refresh": str(refresh)}


def _refresh_token(raw: str) -> tuple[RefreshToken, User]:
    """The refresh token (signature, expiry, type, not blacklisted) and its active user, whose
    password has not changed since it was issued; else InvalidCredentials (401)."""
    token = _refresh_token_decode(raw)
    user_id = user_id_from_claims(token.payload)
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id is not None else None
    if user is None:
        raise InvalidCredentials("No active account found for this token.", code="no_active_account")
    if token.payload.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
        raise InvalidCredentials("The password was changed since this token was issued.", code="token_not_valid")
    return token, user


def _refresh_token_decode(raw: str) -> RefreshToken:
    """A refresh token the store issued (signature, expiry, type, claims, not blacklisted), else InvalidCredentials."""
    try:
        return RefreshToken(raw)
    except TokenError as error:
        raise InvalidCredentials(str(error), code="token_not_valid") from None
    except MALFORMED_CLAIMS:
        raise InvalidCredentials("Token is invalid", code="token_not_valid") from None


def _spend(token: RefreshToken, user: User) -> bool:
    """Blacklist the token; False if it already was (another request spent it first)."""
    jti = token.payload[jwt_settings.JTI_CLAIM]
    with transaction.atomic():
        outstanding, _ = OutstandingToken.objects.get_or_create(
            jti=jti,
            defaults={"user": user, "token": str(token), "expires_at": datetime_from_epoch(token.payload["exp"])},
        )
        _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
    return created


def token_refresh(*, refresh: str) -> dict[str, str]:
    """A new JWT pair for a refresh token (see `_refresh_token`), which is spent: using it
    again, even concurrently, is InvalidCredentials."""
    token, user = _refresh_token(refresh)
    if not _spend(token, user):
        raise InvalidCredentials("Token is blacklisted", code="token_not_valid")
    return tokens_issue(user=user)


def token_revoke(*, refresh: str) -> None:
    """Sign an API client out: blacklist its refresh token (a token revoked already is fine).
    InvalidCredentials for anything that is not a refresh token the store issued."""
    try:
        token = _refresh_token_decode(refresh)
    except InvalidCredentials:
        if _blacklisted(refresh):
            return
        raise
    user_id = user_id_from_claims(token.payload)
    if user_id is None:
        raise InvalidCredentials("Token contained no recognizable user identification", code="token_not_valid")
    _spend(token, User.objects.filter(pk=user_id).first())


def _blacklisted(raw: str) -> bool:
    """Whether `raw` is a genuine, unexpired refresh token that is on the blacklist."""
    try:
        payload = token_backend.decode(raw, verify=True)
    except (TokenBackendError, *MALFORMED_CLAIMS):
        return False
    return BlacklistedToken.objects.filter(token__jti=payload.get(jwt_settings.JTI_CLAIM)).exists()
