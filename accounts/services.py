"""Writes for accounts: registering a customer, signing in, editing the profile, passwords, JWTs,
the address book.

JWTs (simplejwt) are revocable: a refresh token is good for one refresh (then blacklisted,
`token_refresh`), logout blacklists it (`token_revoke`), and every token carries a digest of
the password hash it was issued under (settings.SIMPLE_JWT["CHECK_REVOKE_TOKEN"]), so a
password change or reset, on any surface, revokes every token issued before it, as it signs
out the user's web sessions (Django checks sessions against the same hash). Deleting a
confirmed second-factor device (in the admin, or by enrolling a new app) revokes every refresh
token of its user (`tokens_revoke_all`).
"""
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch, get_md5_hash_password

from accounts import signin
from accounts.models import Address, User
from accounts.selectors import account_with_email
from accounts.signals import password_reset_requested
from accounts.validators import validate_email_one_script
from store.api.authentication import (
    AMR_CLAIM,
    AMR_SECOND_FACTOR,
    AUTH_TIME_CLAIM,
    DEVICE_CLAIM,
    MALFORMED_CLAIMS,
    second_factor_claims,
    user_id_from_claims,
)
from store.errors import DomainError, TooManyAttempts, ValidationFailed

EMAIL_TAKEN = "An account with this e-mail address already exists."
NAME_REQUIRED = "Please enter your name."


class InvalidCredentials(DomainError):
    """Sign-in refused: unknown e-mail, wrong password, inactive account or a bad token."""

    status = 401
    code = "invalid_credentials"


def user_register(*, email: str, password: str, name: str) -> User:
    """Create an active customer account; ValidationFailed names every field that is wrong (an
    address taken under any spelling of it or mixing alphabets: accounts.validators)."""
    email, name = signin.email_normalize(email), name.strip()
    errors: dict[str, list[str]] = {}
    try:
        validate_email_one_script(email)
    except DjangoValidationError as error:
        errors["email"] = list(error.messages)
    if "email" not in errors and account_with_email(email=email) is not None:
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


def password_reset_request(*, email: str) -> None:
    """Someone asked for a reset link for `email` (as entered): queue the e-mail's task, looking
    nothing up. The worker decides whether an account has the address and sends the link
    (notifications.account_mail), so the asker learns nothing either way, not even from the
    time the answer takes. Raises the database's error when the task could be neither queued
    nor kept in the outbox (an outage: the request answers 503, try again)."""
    password_reset_requested.send(sender=User, email=email)


def tokens_issue(*, user: User, device=None, second_factor: dict | None = None) -> dict[str, str]:
    """A fresh JWT pair for the API: {"token": access, "refresh": refresh} (the refresh token is
    recorded). With the django-otp `device` that just accepted a code, both say a second factor
    was given now; with `second_factor`, the claims of an earlier token that still count
    (store.api.authentication.second_factor_claims), they keep its device and time."""
    refresh = RefreshToken.for_user(user)
    if device is not None:
        second_factor = {AMR_CLAIM: AMR_SECOND_FACTOR, DEVICE_CLAIM: device.persistent_id,
                         AUTH_TIME_CLAIM: int(timezone.now().timestamp())}
    for claim, value in (second_factor or {}).items():
        refresh[claim] = value  # the access token copies the refresh token's claims
    return {"token": str(refresh.access_token), "refresh": str(refresh)}


def tokens_revoke_all(*, user_id: int) -> int:
    """Blacklist every unexpired refresh token of the user: how many were still good. Their access
    tokens end within JWT_ACCESS_MINUTES (and lose a second factor whose device is gone at once)."""
    outstanding = OutstandingToken.objects.filter(
        user_id=user_id, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True)
    return len(BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True))


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
    again, even concurrently, is InvalidCredentials. The pair keeps the token's second factor
    only while it still counts (its device kept, within STAFF_SECOND_FACTOR_MAX_AGE)."""
    token, user = _refresh_token(refresh)
    if not _spend(token, user):
        raise InvalidCredentials("Token is blacklisted", code="token_not_valid")
    return tokens_issue(user=user, second_factor=second_factor_claims(token.payload, user))


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


# --- the address book ----------------------------------------------------------------------

ADDRESS_BOOK_LIMIT = 20  # addresses per customer: a book, not a dump
ADDRESS_FIELDS = ("label", *Address.SHIPPING_FIELDS)


def _address_checked(address: Address, changes: dict) -> Address:
    """`address` with `changes` ({field: text}, stripped) applied and validated by the model's
    rules; ValidationFailed names every field that is wrong, with nothing written."""
    unknown = changes.keys() - set(ADDRESS_FIELDS)
    if unknown:
        raise ValueError(f"not address fields: {sorted(unknown)}")
    for name, value in changes.items():
        setattr(address, name, (value or "").strip())
    try:
        address.full_clean(exclude=["user", "is_default"], validate_constraints=False)
    except DjangoValidationError as error:
        fields = {name: list(messages) for name, messages in error.message_dict.items()}
        raise ValidationFailed(next(iter(fields.values()))[0], fields=fields) from None
    return address


def _book_locked(user: User) -> None:
    # One writer per address book at a time: the limit and the single default hold under concurrency.
    User.objects.select_for_update().filter(pk=user.pk).first()


def _default_move(address: Address) -> None:
    Address.objects.filter(user_id=address.user_id, is_default=True).exclude(pk=address.pk).update(is_default=False)


def address_create(*, user: User, label: str, address: str, city: str, state: str, zip: str,
                   is_default: bool = False) -> Address:
    """Add an address to `user`'s book. The first one, or one with `is_default`, becomes the
    default (the previous default stops being it). ValidationFailed (400) names each wrong
    field; a full book (ADDRESS_BOOK_LIMIT) is ValidationFailed too; nothing is written then."""
    entry = _address_checked(Address(user=user), {"label": label, "address": address, "city": city,
                                                  "state": state, "zip": zip})
    with transaction.atomic():
        _book_locked(user)
        count = Address.objects.filter(user=user).count()
        if count >= ADDRESS_BOOK_LIMIT:
            message = f"Your address book is full ({ADDRESS_BOOK_LIMIT} addresses). Delete one to add another."
            raise ValidationFailed(message, code="address_book_full")
        entry.is_default = is_default or count == 0
        if entry.is_default:
            _default_move(entry)
        entry.save()
    return entry


def address_update(*, address: Address, changes: dict, is_default: bool | None = None) -> Address:
    """Change some of `address`'s fields (`changes`: {field: text} of ADDRESS_FIELDS) and, with
    `is_default=True`, make it the default; False leaves the book without one. ValidationFailed
    (400) names each wrong field, with nothing written."""
    _address_checked(address, changes)
    with transaction.atomic():
        _book_locked(address.user)
        if is_default is not None:
            address.is_default = is_default
            if is_default:
                _default_move(address)
        address.save()
    return address


def address_make_default(*, address: Address) -> Address:
    """Make `address` its customer's default (checkout fills it in first)."""
    return address_update(address=address, changes={}, is_default=True)


def address_delete(*, address: Address) -> None:
    """Remove `address` from the book. Deleting the default leaves the book without one until
    the customer picks another (checkout then offers the last order's address)."""
    address.delete()


def address_save_from_checkout(*, user: User, shipping: dict[str, str]) -> Address | None:
    """Keep a checkout's shipping address ({address, city, state, zip}) in `user`'s book, labelled
    with its street and city; None when the book already holds it. ValidationFailed when the book
    is full or the address is not valid, with nothing written."""
    if Address.objects.filter(user=user, **{name: shipping[name].strip() for name in Address.SHIPPING_FIELDS}).exists():
        return None
    label = f"{shipping['address'].strip()}, {shipping['city'].strip()}"
    label = label if len(label) <= 50 else label[:49] + "\u2026"
    return address_create(user=user, label=label, **{name: shipping[name] for name in Address.SHIPPING_FIELDS})
