"""Staff's second factor (django-otp): an authenticator app (TOTP) and single-use recovery codes.

Who must give one is store.permissions' rule (`second_factor_needed`: settings.STAFF_REQUIRE_2FA
and a superuser or a holder of the refund permission); this module enrols and checks.

- Enrolment (`enrolment_start`, `enrolment_confirm`): an unconfirmed TOTP device whose secret
  the person adds to their app (QR code or typed), confirmed by one code from it. Each browser
  session enrolling gets its own secret (derived from the session's key, so two tabs of one
  session share it and another session never sees it); confirming one removes every other app
  device of the account, pending or not, and makes RECOVERY_CODES new recovery codes, returned
  once and stored only as django-otp keeps them (each removed as it is used).
- Checking a code (`code_check`): six digits are checked against the app's device, anything
  else against the recovery codes. Each device is throttled by django-otp after a wrong code
  (1, 2, 4, … seconds, settings.OTP_TOTP_THROTTLE_FACTOR / OTP_STATIC_THROTTLE_FACTOR), up to
  settings.STAFF_SECOND_FACTOR_MAX_WAIT (django-otp's own wait has no ceiling: `_throttle_refusal`
  keeps it there), answered TooManyAttempts (429) with Retry-After; an app's code is good once
  (django-otp keeps the last time step used). A right code ends the wait's growth.
- Deleting a confirmed device (the admin, or enrolling a new app) revokes every API refresh token
  of its user (`receivers_connect`); sessions and access tokens that gave it stop counting it at
  once (django-otp's middleware, store.api.authentication).

A lost phone: a superuser deletes the person's devices in the admin (Second factor: authenticator
apps → TOTP devices); they enrol again at their next sign-in (docs/permissions.md).
"""
import math
from base64 import b32encode
from datetime import timedelta

import django_otp
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from store import permissions, throttling
from store.errors import DomainError, TooManyAttempts

RECOVERY_CODES = 10
APP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"

WRONG_CODE = "That code is not right. Enter the 6-digit code your authenticator app shows now, or a recovery code."
NOT_ENROLLED = "This account has no second factor yet: sign in to the admin once to set one up."
NOT_USED = "This account does not use a second factor: sign in with your e-mail address and password alone."


class WrongCode(DomainError):
    """The code matched no device of the account (or the account has none)."""

    status = 401
    code = "otp_invalid"


def code_normalize(code: str | None) -> str:
    """A code as typed, without spaces or dashes, lower case (recovery codes are lower case)."""
    return "".join((code or "").split()).replace("-", "").lower()


def app_device(user: User, *, confirmed: bool | None = True) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=confirmed).order_by("pk").first()


def is_enrolled(user: User) -> bool:
    """Whether `user` has a confirmed authenticator app."""
    return app_device(user) is not None


def _session_key(user: User, session_key: str) -> str:
    """The enrolment secret of `user` in the browser session `session_key` (40 hex digits, 160 bits):
    an HMAC under SECRET_KEY, so it is unguessable, the same for every tab of the session, and
    another session (the password alone opens one) never sees it."""
    return salted_hmac("accounts.second_factor.enrolment", f"{user.pk}:{session_key}",
                       algorithm="sha256").hexdigest()[:40]


def enrolment_start(*, user: User, session_key: str) -> TOTPDevice:
    """The unconfirmed TOTP device the person adds to their app in this browser session (made on
    the first call, the same on later ones until it is confirmed). Its `config_url` is the
    otpauth:// URI. Two requests at once (two tabs) get one device: the user's row is locked."""
    key = _session_key(user, session_key)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).exists()
        device, _ = TOTPDevice.objects.get_or_create(
            user=user, key=key, confirmed=False, defaults={"name": APP_DEVICE_NAME})
    return device


def secret_text(device: TOTPDevice) -> str:
    """The secret as an app asks for it when typed: base32, in groups of four."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def enrolment_confirm(*, user: User, session_key: str, code: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm this session's unconfirmed device (`enrolment_start`) with a code from the app:
    (the device, the new recovery codes).

    Every other app device of the account (confirmed, or pending in another session) is deleted
    and the recovery codes replaced. WrongCode (401) for a code the device does not accept or
    when this session has no pending device, TooManyAttempts (429) while it is throttled.
    """
    device = TOTPDevice.objects.filter(user=user, key=_session_key(user, session_key), confirmed=False).first()
    if device is None:
        raise WrongCode("Start again: open the set-up page to get a new secret.")
    _throttle_refusal(device)
    # Outside any transaction of ours: a wrong code's throttling is saved as the refusal is raised.
    if django_otp.verify_token(user, device.persistent_id, code_normalize(code)) is None:
        raise WrongCode(WRONG_CODE)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = recovery_codes_renew(user=user)
    return device, codes


def recovery_codes_renew(*, user: User) -> list[str]:
    """RECOVERY_CODES new recovery codes for `user`, replacing any earlier ones (shown once). The
    device stays (a session verified with a recovery code stays verified); only its codes change."""
    with transaction.atomic():
        device = StaticDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
        if device is None:
            device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
        StaticToken.objects.filter(device__user=user).delete()
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def _throttle_refusal(device) -> None:
    """TooManyAttempts while django-otp throttles `device` after wrong codes, for at most
    settings.STAFF_SECOND_FACTOR_MAX_WAIT seconds after the last one: past that, the device's
    count of failures is lowered to the highest whose wait django-otp keeps within it."""
    allowed, detail = device.verify_is_allowed()
    if allowed:
        return
    ceiling = timedelta(seconds=settings.STAFF_SECOND_FACTOR_MAX_WAIT)
    last_failure = device.throttling_failure_timestamp
    locked_until = (detail or {}).get("locked_until")
    if last_failure is not None and locked_until is not None and locked_until > last_failure + ceiling:
        locked_until = last_failure + ceiling
        if timezone.now() >= locked_until:
            factor = device.get_throttle_factor()
            count = 1
            while factor * 2 ** count <= ceiling.total_seconds():
                count += 1
            device.throttling_failure_count = min(device.throttling_failure_count, count)
            device.save(update_fields=["throttling_failure_count"])
            return
    wait = max(1, math.ceil((locked_until - timezone.now()).total_seconds())) if locked_until else 1
    raise TooManyAttempts(
        f"Too many wrong codes. For your security, try again in {throttling.wait_text(wait)}.", retry_after=wait
    )


def code_check(*, user: User, code: str):
    """The device that accepts `code` for `user`: the app's for six digits, else the recovery codes
    (a recovery code is removed as it is used). WrongCode (401) otherwise or without a device,
    TooManyAttempts (429) while the device is throttled."""
    code = code_normalize(code)
    if not code:
        raise WrongCode(WRONG_CODE)
    model = TOTPDevice if code.isdigit() and len(code) == 6 else StaticDevice
    device = model.objects.devices_for_user(user, confirmed=True).order_by("pk").first()
    if device is None:
        if is_enrolled(user):
            raise WrongCode(WRONG_CODE)
        raise WrongCode(NOT_ENROLLED if user.is_staff and permissions.second_factor_needed(user) else NOT_USED)
    _throttle_refusal(device)
    # django-otp verifies in a transaction holding the device's row, so one code is good once.
    verified = django_otp.verify_token(user, device.persistent_id, code)
    if verified is None:
        raise WrongCode(WRONG_CODE)
    return verified


def session_verify(request: HttpRequest, device) -> None:
    """Mark this browser's session as having given the second factor with `device` (a new session
    key: an elevated session never keeps the id it had before)."""
    request.session.cycle_key()
    django_otp.login(request, device)


def _revoke_tokens(sender, instance, **kwargs) -> None:
    """A confirmed device deleted: every API refresh token of its user is revoked."""
    from accounts import services  # services' own imports do not need this module

    if instance.confirmed:
        services.tokens_revoke_all(user_id=instance.user_id)


def receivers_connect() -> None:
    """Connect `_revoke_tokens` to both kinds of device (accounts.apps)."""
    for model in (TOTPDevice, StaticDevice):
        post_delete.connect(_revoke_tokens, sender=model, dispatch_uid=f"second_factor_revoke_{model.__name__}")
