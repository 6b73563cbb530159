"""Request and response shapes of /api/auth (camelCase keys, as the API contract fixes them)."""
from rest_framework import serializers


class RegisterInputSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, trim_whitespace=False, style={"input_type": "password"})
    name = serializers.CharField(max_length=150)


class LoginInputSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, trim_whitespace=False, style={"input_type": "password"})


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class ProfileInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=150)


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(read_only=True)


class AuthSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Access token: send it as `Authorization: Bearer <token>`.")
    refresh = serializers.CharField(help_text="Refresh token for POST /api/auth/refresh.")
    user = UserSerializer()


class TokenPairSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="A new access token.")
    refresh = serializers.CharField(help_text="A new refresh token; the one sent is spent and refused from now on.")


class PasswordChangeInputSerializer(serializers.Serializer):
    currentPassword = serializers.CharField(
        write_only=True, trim_whitespace=False, style={"input_type": "password"}
    )
    newPassword = serializers.CharField(
        write_only=True, trim_whitespace=False, style={"input_type": "password"}
    )
