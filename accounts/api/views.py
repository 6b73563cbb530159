"""/api/auth: register, log in, refresh the access token, read and edit the profile (thin over services)."""
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api.serializers import (
    AccessTokenSerializer,
    AuthSerializer,
    LoginInputSerializer,
    ProfileInputSerializer,
    RefreshInputSerializer,
    RegisterInputSerializer,
    UserSerializer,
)
from store import throttling

INVALID = OpenApiResponse(description='Validation error: {"error", "code": "invalid", "fields"}')
UNAUTHORIZED = OpenApiResponse(description='Bad credentials or token: {"error", "code"}')
THROTTLED = OpenApiResponse(description='Too many attempts: {"error", "code": "throttled"} and Retry-After')


def _auth_response(user, *, status_code: int) -> Response:
    body = {**services.tokens_issue(user=user), "user": user}
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
    """Per address (RATE_LIMITS['LOGIN']) and per account: after RATE_LIMITS['LOGIN_FAILURES']
    failed sign-ins the account is refused with 429, right password or not."""

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
        email = data.validated_data["email"]
        if refusal := throttling.login_lockout(email):
            raise throttling.RateLimited(refusal)
        try:
            user = services.user_authenticate(**data.validated_data, request=request._request)
        except services.InvalidCredentials:
            throttling.login_failure_record(email)
            raise
        return _auth_response(user, status_code=status.HTTP_200_OK)


class RefreshApi(PublicApi):
    @extend_schema(
        tags=["auth"],
        summary="Exchange a refresh token for a new access token",
        request=RefreshInputSerializer,
        responses={200: AccessTokenSerializer, 400: INVALID, 401: UNAUTHORIZED},
    )
    def post(self, request: Request) -> Response:
        data = RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token = services.token_refresh(refresh=data.validated_data["refresh"])
        return Response(AccessTokenSerializer({"token": token}).data)


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
