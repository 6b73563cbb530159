"""The provider implementations settings choose, one instance per process.

Each pipeline step's provider (its role: the step's name) is served by the class the step
declares (providers.steps) unless `settings.PROVIDERS` maps the role to another, by dotted path,
as it does the roles no step has (notification); `settings.PAYMENT_PROVIDERS` maps payment providers by the name an order
records, and `settings.PAYMENT_PROVIDER` names the one that charges new orders. A setting
that names a missing class fails at the first call with ImportError.
"""
from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from providers.base import NotificationProvider, PaymentProvider
from providers.steps import step_implementations


@cache
def provider(role: str):
    """The instance serving `role` (KeyError for a role neither PROVIDERS nor a step names)."""
    return import_string(settings.PROVIDERS.get(role) or step_implementations()[role])()


@cache
def payment_provider(name: str = "") -> PaymentProvider:
    """The payment provider called `name` (an order's), or without one the one charging new orders.

    KeyError for a name PAYMENT_PROVIDERS does not know: an order charged by a provider the
    shop no longer has cannot be refunded through the store.
    """
    return import_string(settings.PAYMENT_PROVIDERS[name or settings.PAYMENT_PROVIDER])()


def notification() -> NotificationProvider:
    return provider("notification")


@receiver(setting_changed, dispatch_uid="providers.registry.forget")
def _forget(*, setting: str, **kwargs) -> None:
    """A test that overrides the choice gets the provider it names."""
    if setting in ("PROVIDERS", "PAYMENT_PROVIDERS", "PAYMENT_PROVIDER"):
        provider.cache_clear()
        payment_provider.cache_clear()
