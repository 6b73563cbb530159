"""A charge the payment provider answered "pending": the order waits in `paying` for the provider's
webhook (orders.services.payment_webhook), or gives up after the order's workflow version's confirmation timeout."""
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from orders.models import Order, OrderEvent
from orders.signals import order_event
from orders.states import Actor, OrderState
from store.request_context import request_id_var

PAYMENT_PENDING_EVENT = "order.payment_pending"
PAYMENT_PENDING_TEXT = "Payment pending: waiting for the bank's confirmation"


@dataclass(frozen=True)
class PaymentPending:
    """Since when the order has waited for charge `reference`; `new`: this call recorded it."""

    since: datetime
    new: bool


def payment_pending_record(*, order_id: int, reference: str) -> PaymentPending | None:
    """Record on the order's trace that charge `reference` waits for the provider's confirmation
    (an OrderEvent, once per charge: a rerun of the step finds it) and on the order itself
    (`charge_pending_reference`, `charge_pending_since`). No transition fires and no worker waits. None when the order is no longer in `paying` (the webhook came first)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.state != OrderState.PAYING:
            return None
        known = order.events.filter(event_type=PAYMENT_PENDING_EVENT, detail__reference=reference).first()
        if known is not None:
            if order.charge_pending_reference != reference:  # re-driven: the same charge, waited for again
                _charge_pending_note(order, reference, known.created_at)
            return PaymentPending(since=known.created_at, new=False)
        event = OrderEvent.objects.create(
            order=order, event_type=PAYMENT_PENDING_EVENT, source_state=order.state, target_state=order.state,
            actor_kind=Actor.SYSTEM, detail={"reference": reference, "message": PAYMENT_PENDING_TEXT},
            request_id=request_id_var.get() or "",
        )
        _charge_pending_note(order, reference, event.created_at)
        order_event.send(sender=Order, order=order, event=event)
    return PaymentPending(since=event.created_at, new=True)


def _charge_pending_note(order: Order, reference: str, since: datetime) -> None:
    """The order's own note of the charge it waits for (what reconciliation asks the provider about)."""
    order.charge_pending_reference, order.charge_pending_since = reference, since
    order.save(update_fields=["charge_pending_reference", "charge_pending_since", "updated_at"])
