"""Settings from the environment: typed reads that stop startup on a value that makes no sense.

store/settings.py reads every setting with these (docs/configuration.md)."""
import os
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ImproperlyConfigured


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _env_number(name: str, default, kind, minimum):
    """`kind(value)` of environment variable `name`, else `default`; a value that is not such a
    number, or is below `minimum`, stops startup with ImproperlyConfigured naming the variable
    (instead of a bare ValueError, or a nonsense limit that fails requests later)."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = kind(value.strip())
    except ValueError:
        number = None
    if number is None or number != number or number in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name}={value!r} is not {'a whole' if kind is int else 'a'} number.")
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} is below its least sensible value, {minimum}.")
    return number


def env_float(name: str, default: float, minimum: float | None = None) -> float:
    return _env_number(name, default, float, minimum)


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    return _env_number(name, default, int, minimum)


def env_money(name: str, default: str, minimum: Decimal = Decimal("0")) -> Decimal | None:
    """Environment variable `name` (else `default`) as dollars, 2 places; None when it is empty
    (the feature it sets is off). Not an amount, or below `minimum`: ImproperlyConfigured naming it."""
    value = os.environ.get(name, default).strip()
    if not value:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise ImproperlyConfigured(f"{name}={value!r} is not an amount in dollars, e.g. 100.00 (empty turns it off).")
    if amount < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} is below its least sensible value, {minimum}.")
    return amount.quantize(Decimal("0.01"))
