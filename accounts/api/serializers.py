"""Request and response shapes of /api/auth (camelCase keys, as the API contract fixes them)."""
from rest_framework import serializers

from accounts.validators import validate_zip_code


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


class AddressInputSerializer(serializers.Serializer):
    """An address of the book (the service checks the model's rules again, for every caller)."""

    label = serializers.CharField(max_length=50, help_text="A name for the address, such as Home or Work.")
    address = serializers.CharField(max_length=200, help_text="Street address.")
    city = serializers.CharField(max_length=100)
    state = serializers.CharField(max_length=100)
    zip = serializers.CharField(max_length=10, validators=[validate_zip_code], help_text="A US ZIP code: 12345 or 12345-6789.")
    isDefault = serializers.BooleanField(
        required=False,
        help_text="Make this the default address (checkout fills it in first); the previous default stops being "
        "it. The first address of a book is the default.",
    )


class AddressSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    label = serializers.CharField(read_only=True)
    address = serializers.CharField(read_only=True)
    city = serializers.CharField(read_only=True)
    state = serializers.CharField(read_only=True)
    zip = serializers.CharField(read_only=True)
    isDefault = serializers.BooleanField(source="is_default", read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
