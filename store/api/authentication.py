"""The API's authentication: simplejwt's JWT bearer tokens, naming the user in the log lines.

DRF authenticates inside the view, after the middleware ran, so this is where a JWT
request's user becomes known to the logs (store.request_context.user_bind). A token whose
claims are not what the store issues (a user id that is not a number, say) is refused with
401 like any bad token, and so is one issued before the user's last password change
(settings.SIMPLE_JWT["CHECK_REVOKE_TOKEN"]).

A token issued after a second factor says so in its `amr` claim (RFC 8176's authentication
methods: ["pwd", "otp"]), with the device that verified it (`otp_device`, django-otp's
persistent id) and when (`auth_time`, Unix seconds, OpenID Connect's claim). The request's user
answers `is_verified()` from them (`second_factor_in`), as django-otp's middleware makes a
session's user answer (store.permissions.second_factor_missing reads it): only while that
device still exists, is confirmed and is the user's, and for at most
settings.STAFF_SECOND_FACTOR_MAX_AGE after the code was given, refreshes included.
"""
import re
import time

from django.conf import settings
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from store.numbers import MAX_ID
from store.request_context import user_bind

# What simplejwt raises, besides TokenError, on a validly signed token whose claims have the
# wrong shape (no "jti", an "exp" that is a string or out of range…).
MALFORMED_CLAIMS = (KeyError, TypeError, ValueError, OverflowError)


# The claim naming how the token's holder signed in, and the methods a second factor adds.
AMR_CLAIM = "amr"
AMR_SECOND_FACTOR = ["pwd", "otp"]
DEVICE_CLAIM = "otp_device"
AUTH_TIME_CLAIM = "auth_time"
# django-otp's persistent ids of the store's two kinds of device ("otp_totp.totpdevice/12").
DEVICE_ID = re.compile(r"(otp_totp\.totpdevice|otp_static\.staticdevice)/[1-9][0-9]{0,8}")
# A token's clock may run this far ahead of ours (seconds) and its auth_time still count.
CLOCK_SKEW = 60


def second_factor_claims(payload: dict, user) -> dict | None:
    """The second-factor claims of a token's `payload` ({"amr", "otp_device", "auth_time"}) if they
    still count for `user` (a User): the device named exists, is confirmed and is the user's, and
    the code was given at most settings.STAFF_SECOND_FACTOR_MAX_AGE (seconds) ago; else None."""
    from django_otp.models import Device  # models: not importable before the apps are ready

    methods, device_id, auth_time = (payload.get(claim) for claim in (AMR_CLAIM, DEVICE_CLAIM, AUTH_TIME_CLAIM))
    if not (isinstance(methods, list) and "otp" in methods and isinstance(device_id, str)
            and DEVICE_ID.fullmatch(device_id) and isinstance(auth_time, int) and not isinstance(auth_time, bool)):
        return None
    age = time.time() - auth_time
    if not -CLOCK_SKEW <= age <= settings.STAFF_SECOND_FACTOR_MAX_AGE:
        return None
    device = Device.from_persistent_id(device_id)
    if device is None or not device.confirmed or device.user_id != getattr(user, "pk", None):
        return None
    return {AMR_CLAIM: AMR_SECOND_FACTOR, DEVICE_CLAIM: device_id, AUTH_TIME_CLAIM: auth_time}


def second_factor_in(payload: dict, user) -> bool:
    """Whether a token's claims say its holder gave a second factor that still counts (`second_factor_claims`)."""
    return second_factor_claims(payload, user) is not None


def user_id_from_claims(payload: dict) -> int | None:
    """The user id a token names, if it is one the store could have issued (ASCII digits in range)."""
    raw = payload.get(jwt_settings.USER_ID_CLAIM)
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 19:
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


class JWTAuthentication(authentication.JWTAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            user, token = result
            verified = second_factor_in(token.payload, user)
            user.is_verified = lambda: verified
            user_bind(request, user)
        return result

    def get_validated_token(self, raw_token):
        try:
            return super().get_validated_token(raw_token)
        except MALFORMED_CLAIMS:
            raise InvalidToken("Given token not valid for any token type") from None

    def get_user(self, validated_token):
        if user_id_from_claims(validated_token.payload) is None:
            raise InvalidToken("Token contained no recognizable user identification")
        return super().get_user(validated_token)


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme of simplejwt's class, for this subclass too."""

    target_class = "store.api.authentication.JWTAuthentication"
