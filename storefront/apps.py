from django.apps import AppConfig


class StorefrontConfig(AppConfig):
    """The customer's pages: cart, checkout, their orders and Try again."""

    name = "storefront"
    verbose_name = "Storefront"
