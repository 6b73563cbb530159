"""Request and response shapes of /api/auth (camelCase keys, as the API contract fixes them)."""
from rest_framework import serializers

from accounts.validators import validate_zip_code
from store.api import fields


class RegisterInputSerializer(serializers.Serializer):
    email = fields.EmailField()
    password = fields.CharField(write_only=True, trim_whitespace=False, style={"input_type": "password"})
    name = fields.CharField(max_length=150)


class LoginInputSerializer(serializers.Serializer):
    email = fields.EmailField()
    password = fields.CharField(write_only=True, trim_whitespace=False, style={"input_type": "password"})
    otp = fields.CharField(
        required=False, max_length=32, write_only=True,
        help_text="The second factor: the 6-digit code of the account's authenticator app, or one of its "
        "recovery codes (good once). Staff who may refund orders or manage staff need it for staff "
        "requests when the shop requires it; the tokens then carry `amr: [\"pwd\", \"otp\"]`.",
    )


class RefreshInputSerializer(serializers.Serializer):
    refresh = fields.CharField()


class ProfileInputSerializer(serializers.Serializer):
    name = fields.CharField(max_length=150)


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = fields.EmailField(read_only=True)
    name = fields.CharField(read_only=True)


class AuthSerializer(serializers.Serializer):
    token = fields.CharField(help_text="Access token: send it as `Authorization: Bearer <token>`.")
    refresh = fields.CharField(help_text="Refresh token for POST /api/auth/refresh.")
    user = UserSerializer()
    secondFactor = fields.ChoiceField(
        choices=["given", "required", "not_needed"],
        help_text="`required`: this account's staff actions are refused (403 second_factor_required) until "
        "it signs in again with `otp`; `given`: the tokens carry the second factor; `not_needed`: the "
        "account needs none.",
    )


class TokenPairSerializer(serializers.Serializer):
    token = fields.CharField(help_text="A new access token.")
    refresh = fields.CharField(help_text="A new refresh token; the one sent is spent and refused from now on.")


class PasswordChangeInputSerializer(serializers.Serializer):
    currentPassword = fields.CharField(
        write_only=True, trim_whitespace=False, style={"input_type": "password"}
    )
    newPassword = fields.CharField(
        write_only=True, trim_whitespace=False, style={"input_type": "password"}
    )


class AddressInputSerializer(serializers.Serializer):
    """An address of the book (the service checks the model's rules again, for every caller)."""

    label = fields.CharField(max_length=50, help_text="A name for the address, such as Home or Work.")
    address = fields.CharField(max_length=200, help_text="Street address.")
    city = fields.CharField(max_length=100)
    state = fields.CharField(max_length=100)
    zip = fields.CharField(max_length=10, validators=[validate_zip_code], help_text="A US ZIP code: 12345 or 12345-6789.")
    isDefault = serializers.BooleanField(
        required=False,
        help_text="Make this the default address (checkout fills it in first); the previous default stops being "
        "it. The first address of a book is the default.",
    )


class AddressSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    label = fields.CharField(read_only=True)
    address = fields.CharField(read_only=True)
    city = fields.CharField(read_only=True)
    state = fields.CharField(read_only=True)
    zip = fields.CharField(read_only=True)
    isDefault = serializers.BooleanField(source="is_default", read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
