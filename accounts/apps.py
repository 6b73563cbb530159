from django.apps import AppConfig
from django_otp.plugins.otp_static.apps import DefaultConfig as OTPStaticConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as OTPTOTPConfig


class AccountsConfig(AppConfig):
    default = True  # the module holds other apps' configs too
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import second_factor

        second_factor.receivers_connect()


# django-otp's device apps, under the names the admin shows for them (their labels stay).
class AuthenticatorAppsConfig(OTPTOTPConfig):
    verbose_name = "Second factor: authenticator apps"


class RecoveryCodesConfig(OTPStaticConfig):
    verbose_name = "Second factor: recovery codes"
