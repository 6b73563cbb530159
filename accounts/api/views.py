"""/api/auth: register, log in, refresh, log out, change the password, the profile (thin over services)."""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import second_factor, services
from accounts.api.serializers import (
    AuthSerializer,
    LoginInputSerializer,
    PasswordChangeInputSerializer,
    ProfileInputSerializer,
    RefreshInputSerializer,
    RegisterInputSerializer,
    TokenPairSerializer,
    UserSerializer,
)
from store import permissions, throttling
from store.api.authentication import second_factor_claims

INVALID = OpenApiResponse(description='Validation error: {"error", "code": "invalid", "fields"}')
UNAUTHORIZED = OpenApiResponse(description='Bad credentials or token: {"error", "code"}')
THROTTLED = OpenApiResponse(description='Too many attempts: {"error", "code": "throttled"} and Retry-After')


def _auth_response(user, *, status_code: int, device=None, second_factor: dict | None = None) -> Response:
    """The pair and the user, and whether the account's staff actions need a second factor the
    pair does not carry ("required"), one it carries ("given"), or none ("not_needed")."""
    pair = services.tokens_issue(user=user, device=device, second_factor=second_factor)
    if device is not None or second_factor:
        said = "given"
    else:
        said = "required" if permissions.second_factor_needed(user) else "not_needed"
    body = {**pair, "user": user, "secondFactor": said}
    return Response(AuthSerializer(body).data, status=status_code)


class PublicApi(APIView):
    # No authentication at all: a stale Authorization header must not turn a sign-in into a 401.
    authentication_classes: list = []
    permission_classes = [AllowAny]


class RegisterApi(PublicApi):
    throttle_classes = [*PublicApi.throttle_classes, throttling.RegisterAddressThrottle]

    @extend_schema(
        tags=["auth"],
        summary="Create a customer account",
        request=RegisterInputSerializer,
        responses={201: AuthSerializer, 400: INVALID, 429: THROTTLED},
    )
    def post(self, request: Request) -> Response:
        data = RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        return _auth_response(user, status_code=status.HTTP_201_CREATED)


class LoginApi(PublicApi):
    """Guarded like every sign-in (accounts.signin): per address (RATE_LIMITS['LOGIN'], the
    throttle below) and per account: a locked-out account is refused with 429, right password or not."""

    throttle_classes = [*PublicApi.throttle_classes, throttling.LoginAddressThrottle]

    @extend_schema(
        tags=["auth"],
        summary="Exchange e-mail and password for a JWT pair",
        request=LoginInputSerializer,
        responses={200: AuthSerializer, 400: INVALID, 401: UNAUTHORIZED, 429: THROTTLED},
    )
    def post(self, request: Request) -> Response:
        data = LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        otp = data.validated_data.pop("otp", "")
        user = services.user_authenticate(**data.validated_data, request=request._request)
        device = second_factor.code_check(user=user, code=otp) if otp else None
        return _auth_response(user, status_code=status.HTTP_200_OK, device=device)


class RefreshApi(PublicApi):
    @extend_schema(
        tags=["auth"],
        summary="Exchange a refresh token for a new pair",
        description="A refresh token is good for one refresh: the answer carries a new one, and the one sent "
        "is refused from then on (401), as is any token issued before the account's last password change.",
        request=RefreshInputSerializer,
        responses={200: TokenPairSerializer, 400: INVALID, 401: UNAUTHORIZED},
    )
    def post(self, request: Request) -> Response:
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pair = services.token_refresh(refresh=data.validated_data["refresh"])
        return Response(TokenPairSerializer(pair).data)


class LogoutApi(PublicApi):
    """The refresh token is the credential: a client signs out with it alone, even once its
    access token has expired (no Authorization header is read here)."""

    @extend_schema(
        tags=["auth"],
        summary="Sign out: revoke a refresh token",
        description="The refresh token is refused from then on (revoking it again is fine). Access tokens "
        "expire on their own within JWT_ACCESS_MINUTES (15 by default).",
        request=RefreshInputSerializer,
        responses={204: None, 400: INVALID, 401: UNAUTHORIZED},
    )
    def post(self, request: Request) -> Response:
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.token_revoke(refresh=data.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["auth"],
        summary="Change the signed-in user's password",
        description="Every token issued before (access and refresh) and every web session of the account stop "
        "working; the answer carries a new pair for this client.",
        request=PasswordChangeInputSerializer,
        responses={200: AuthSerializer, 400: INVALID, 401: UNAUTHORIZED, 429: THROTTLED},
    )
    def post(self, request: Request) -> Response:
        data = PasswordChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_password_change(
            user=request.user,
            current_password=data.validated_data["currentPassword"],
            new_password=data.validated_data["newPassword"],
            request=request._request,
        )
        # The new pair keeps the second factor the token of this request carried.
        return _auth_response(user, status_code=status.HTTP_200_OK,
                              second_factor=second_factor_claims(request.auth.payload, user))


class ProfileApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=["auth"], summary="The signed-in user", responses={200: UserSerializer, 401: UNAUTHORIZED})
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)

    @extend_schema(
        tags=["auth"],
        summary="Change the signed-in user's name",
        request=ProfileInputSerializer,
        responses={200: UserSerializer, 400: INVALID, 401: UNAUTHORIZED},
    )
    def put(self, request: Request) -> Response:
        return self._update(request, partial=False)

    @extend_schema(
        tags=["auth"],
        summary="Change the signed-in user's name",
        request=ProfileInputSerializer(partial=True),
        responses={200: UserSerializer, 400: INVALID, 401: UNAUTHORIZED},
    )
    def patch(self, request: Request) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        data = ProfileInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        user = request.user
        if "name" in data.validated_data:
            user = services.user_update_profile(user=user, name=data.validated_data["name"])
        return Response(UserSerializer(user).data)
