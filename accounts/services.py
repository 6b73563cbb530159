"""Writes for accounts: registering a customer, signing in, editing the profile, JWTs."""
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from store.errors import DomainError, ValidationFailed

EMAIL_TAKEN = "An account with this e-mail address already exists."
NAME_REQUIRED = "Please enter your name."


class InvalidCredentials(DomainError):
    """Sign-in refused: unknown e-mail, wrong password, inactive account or a bad token."""

    status = 401
    code = "invalid_credentials"


def _normalize_email(email: str) -> str:
    return User.objects.normalize_email(email.strip()).lower()


def user_register(*, email: str, password: str, name: str) -> User:
    """Create an active customer account; ValidationFailed names every field that is wrong."""
    email, name = _normalize_email(email), name.strip()
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


def user_authenticate(*, email: str, password: str, request: HttpRequest | None = None) -> User:
    """The active user with this e-mail and password, or InvalidCredentials."""
    user = authenticate(request, username=_normalize_email(email), password=password)
    if user is None:
        raise InvalidCredentials("Incorrect e-mail address or password.")
    return user


def user_update_profile(*, user: User, name: str) -> User:
    """Change the user's full name (the e-mail is the login and stays)."""
    name = name.strip()
    if not name:
        raise ValidationFailed(NAME_REQUIRED, fields={"name": [NAME_REQUIRED]})
    user.name = name
    user.save(update_fields=["name"])
    return user


def tokens_issue(*, user: User) -> dict[str, str]:
    """A fresh JWT pair for the API: {"token": access, "refresh": refresh}."""
    refresh = RefreshToken.for_user(user)
    return {"token": str(refresh.access_token), "refresh": str(refresh)}


def token_refresh(*, refresh: str) -> str:
    """A new access token for a valid refresh token of an active user, or InvalidCredentials."""
    try:
        token = RefreshToken(refresh)
    except TokenError as error:
        raise InvalidCredentials(str(error), code="token_not_valid") from None
    if not User.objects.filter(
        **{jwt_settings.USER_ID_FIELD: token.payload.get(jwt_settings.USER_ID_CLAIM)}, is_active=True
    ).exists():
        raise InvalidCredentials("No active account found for this token.", code="no_active_account")
    return str(token.access_token)
