"""The API's authentication: simplejwt's JWT bearer tokens, naming the user in the log lines.

DRF authenticates inside the view, after the middleware ran, so this is where a JWT
request's user becomes known to the logs (store.request_context.user_bind).
"""
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt import authentication

from store.request_context import user_bind


class JWTAuthentication(authentication.JWTAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            user_bind(request, result[0])
        return result


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme of simplejwt's class, for this subclass too."""

    target_class = "store.api.authentication.JWTAuthentication"
