"""System checks: every provider the settings name can be imported, so a wrong setting stops
`manage.py check` and `migrate` on deploy instead of the first checkout (a 500)."""
from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from providers.steps import step_implementations


def _unimportable(path: str) -> str:
    try:
        import_string(path)
    except ImportError as error:
        return str(error)
    return ""


@checks.register()
def providers_configured(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    found = []
    for role, path in {**step_implementations(), **getattr(settings, "PROVIDERS", {})}.items():
        problem = _unimportable(path)
        if problem:
            found.append(checks.Error(f"PROVIDERS[{role!r}] cannot be used: {problem}.",
                                      hint="Name a class by dotted path (providers/base.py says what it does).",
                                      id="providers.E001"))
    payments = getattr(settings, "PAYMENT_PROVIDERS", {})
    for name, path in payments.items():
        problem = _unimportable(path)
        if problem:
            found.append(checks.Error(f"PAYMENT_PROVIDERS[{name!r}] cannot be used: {problem}.", id="providers.E002"))
    if settings.PAYMENT_PROVIDER not in payments:
        found.append(checks.Error(
            f"PAYMENT_PROVIDER {settings.PAYMENT_PROVIDER!r} is not one of PAYMENT_PROVIDERS "
            f"({', '.join(payments) or 'none'}): no order could be placed.", id="providers.E003"))
    return found
