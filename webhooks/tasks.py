"""django-q2 tasks of webhooks: send one delivery; the dispatcher's scheduled run."""
from webhooks.services import deliveries_dispatch, delivery_send

DISPATCH_SCHEDULE = "webhooks-dispatch"  # made by migration webhooks/0002


def deliveries_dispatch_scheduled() -> int:
    return deliveries_dispatch()


__all__ = ["delivery_send", "deliveries_dispatch_scheduled"]
