"""Checks of an endpoint's fields, run by the model's full_clean: the admin's form and the API's
service both, so both refuse the same things with the same words."""
from django.core.exceptions import ValidationError

from webhooks.events import ALL, EVENT_TYPES
from webhooks.transport import AddressRefused, url_check


def validate_url(url: str) -> None:
    try:
        url_check(url)
    except AddressRefused as exc:
        raise ValidationError(str(exc), code="address_refused") from exc


def validate_events(events) -> None:
    if not isinstance(events, list) or not events or not all(isinstance(name, str) for name in events):
        raise ValidationError('Name at least one event type, e.g. ["order.paid"], or ["*"] for all.')
    unknown = [name for name in events if name != ALL and name not in EVENT_TYPES]
    if unknown:
        raise ValidationError(f"Unknown event type {unknown[0]!r}; the types are: {', '.join(EVENT_TYPES)}.")
    if len(set(events)) != len(events):
        raise ValidationError("Name each event type once.")
