from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class StoreAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the store's site as the default one (accounts.admin_site: its sign-in
    and password change are guarded as accounts' own); listed in INSTALLED_APPS in place of
    "django.contrib.admin"."""

    default = False  # not the config of the `accounts` app itself
    default_site = "accounts.admin_site.StoreAdminSite"


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"
