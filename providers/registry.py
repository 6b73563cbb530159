"""The provider implementations settings choose, one instance per process.

`settings.PROVIDERS` maps each role (inventory, shipping, notification, risk) to a class by
dotted path; `settings.PAYMENT_PROVIDERS` maps payment providers by the name an order
records, and `settings.PAYMENT_PROVIDER` names the one that charges new orders. A setting
that names a missing class fails at the first call with ImportError.
"""
from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from providers.base import InventoryProvider, NotificationProvider, PaymentProvider, ShippingProvider


@cache
def provider(role: str):
    """The instance serving `role` (KeyError for a role PROVIDERS does not name)."""
    return import_string(settings.PROVIDERS[role])()


@cache
def payment_provider(name: str = "") -> PaymentProvider:
    """The payment provider called `name` (an order's), or without one the one charging new orders.

    KeyError for a name PAYMENT_PROVIDERS does not know: an order charged by a provider the
    shop no longer has cannot be refunded through the store.
    """
    return import_string(settings.PAYMENT_PROVIDERS[name or settings.PAYMENT_PROVIDER])()


def inventory() -> InventoryProvider:
    return provider("inventory")


def shipping() -> ShippingProvider:
    return provider("shipping")


def notification() -> NotificationProvider:
    return provider("notification")


@receiver(setting_changed, dispatch_uid="providers.registry.forget")
def _forget(*, setting: str, **kwargs) -> None:
    """A test that overrides the choice gets the provider it names."""
    if setting in ("PROVIDERS", "PAYMENT_PROVIDERS", "PAYMENT_PROVIDER"):
        provider.cache_clear()
        payment_provider.cache_clear()
