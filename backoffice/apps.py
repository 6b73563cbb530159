from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class StoreAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the store's site as the default one (backoffice.site: its sign-in and
    password change are guarded as accounts' own); listed in INSTALLED_APPS in place of
    "django.contrib.admin", after the back office so that its templates override the admin's."""

    default = False  # not the config of the `backoffice` app itself
    default_site = "backoffice.site.StoreAdminSite"


class BackofficeConfig(AppConfig):
    """The staff's Django admin: every model's admin page, its actions and the pages beside them."""

    name = "backoffice"
    verbose_name = "Back office"
