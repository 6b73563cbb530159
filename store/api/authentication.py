"""The API's authentication: simplejwt's JWT bearer tokens, naming the user in the log lines.

DRF authenticates inside the view, after the middleware ran, so this is where a JWT
request's user becomes known to the logs (store.request_context.user_bind). A token whose
claims are not what the store issues (a user id that is not a number, say) is refused with
401 like any bad token, and so is one issued before the user's last password change
(settings.SIMPLE_JWT["CHECK_REVOKE_TOKEN"]).

A token issued after a second factor says so in its `amr` claim (RFC 8176's authentication
methods: ["pwd", "otp"]); the request's user answers `is_verified()` from it, as django-otp's
middleware makes a session's user answer (store.permissions.second_factor_missing reads it).
"""
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


def second_factor_in(payload: dict) -> bool:
    """Whether a token's claims say its holder gave a second factor when signing in."""
    methods = payload.get(AMR_CLAIM)
    return isinstance(methods, list) and "otp" in methods


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
            verified = second_factor_in(token.payload)
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
