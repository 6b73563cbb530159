"""Staff's second factor (django-otp): an authenticator app (TOTP) and single-use recovery codes.

Who must give one is store.permissions' rule (`second_factor_needed`: settings.STAFF_REQUIRE_2FA
and a superuser or a holder of the refund permission); this module enrols and checks.

- Enrolment (`enrolment_start`, `enrolment_confirm`): an unconfirmed TOTP device whose secret
  the person adds to their app (QR code or typed), confirmed by one code from it; confirming
  makes RECOVERY_CODES new recovery codes, returned once and stored only as django-otp keeps
  them (each removed as it is used).
- Checking a code (`code_check`): six digits are checked against the app's device, anything
  else against the recovery codes. Each device is throttled by django-otp after a wrong code
  (1, 2, 4, … seconds, settings.OTP_TOTP_THROTTLE_FACTOR / OTP_STATIC_THROTTLE_FACTOR), which
  answers TooManyAttempts (429) with Retry-After; an app's code is good once (django-otp keeps
  the last time step used).

A lost phone: a superuser deletes the person's TOTP device in the admin (Django OTP → TOTP
devices); they enrol again at their next sign-in (docs/operations.md).
"""
import math
from base64 import b32encode

import django_otp
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from store import throttling
from store.errors import DomainError, TooManyAttempts

RECOVERY_CODES = 10
APP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"

WRONG_CODE = "That code is not right. Enter the 6-digit code your authenticator app shows now, or a recovery code."
NOT_ENROLLED = "This account has no second factor yet: sign in to the admin once to set one up."


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


def enrolment_start(*, user: User) -> TOTPDevice:
    """The unconfirmed TOTP device the person is adding to their app (made on first call, the same
    secret on later calls until it is confirmed). Its `config_url` is the otpauth:// URI."""
    device = app_device(user, confirmed=False)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)
    return device


def secret_text(device: TOTPDevice) -> str:
    """The secret as an app asks for it when typed: base32, in groups of four."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def enrolment_confirm(*, user: User, code: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the unconfirmed device with a code from the app: (the device, the new recovery codes).

    Any earlier app device and recovery codes of the account are replaced. WrongCode (401) for a
    code the device does not accept, TooManyAttempts (429) while it is throttled.
    """
    device = app_device(user, confirmed=False)
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
    """RECOVERY_CODES new recovery codes for `user`, replacing any earlier ones (shown once)."""
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def _throttle_refusal(device) -> None:
    """TooManyAttempts while django-otp throttles `device` after wrong codes."""
    allowed, detail = device.verify_is_allowed()
    if allowed:
        return
    locked_until = (detail or {}).get("locked_until")
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
        raise WrongCode(NOT_ENROLLED if not is_enrolled(user) else WRONG_CODE)
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
