"""The one place where an order changes state.

`order_transition` fires a django-fsm transition of `Order` under a row lock, inside a
transaction, writes the `OrderEvent`, releases stock when the order ends without shipping (or
notes it sold when it ships, and returns it when the carrier brings the parcel back: orders.stock),
and announces it (orders.signals): `order_event` in the transaction (the customer's
notification is written with it), `order_ready` after commit when the pipeline takes over.
"""
import logging
from typing import Any

from django.db import transaction
from django.db.models import F
from django_fsm import can_proceed

from orders.models import Order, OrderEvent
from orders.signals import order_event, order_ready
from orders.states import EVENT_OF_TRANSITION, TERMINAL_STATES, TRANSITIONS, WAITING_STATES, Actor, StockStatus, meaning
from orders.stock import stock_release, stock_returned, stock_sold
from store.audit import staff_action_record
from store.errors import Conflict
from store.prepared import PreparedRead
from store.request_context import request_id_var

logger = logging.getLogger("orders.transitions")

class TransitionRefused(Conflict):
    code = "invalid_state"


_FIELDS = [field.attname for field in Order._meta.concrete_fields if not field.primary_key]


def _field_values(order: Order) -> dict[str, Any]:
    return {name: getattr(order, name) for name in _FIELDS}


def _refusal_message(order: Order, name: str) -> str:
    label = meaning(name).label.lower()
    return f"Order {order.number} is {order.get_state_display().lower()} ({order.state}); it cannot {label} now."


def order_transition(
    *,
    order_id: int,
    name: str,
    actor=None,
    actor_kind: str = Actor.SYSTEM,
    only_from: str | None = None,
    detail: dict[str, Any] | None = None,
    locked: Order | None = None,
    **kwargs: Any,
) -> Order | None:
    """Fire transition `name` on the order and return it.

    With `only_from`, an order that has already left that state is left alone and None is
    returned: that is how a redelivered pipeline step becomes a no-op. Otherwise a transition
    the current state does not allow raises TransitionRefused (HTTP 409).

    `locked`: the order as the caller read it with `order_locked` in the transaction it is in
    (and lets an error here end); the transition is part of that transaction, without reading
    the order again or a savepoint of its own.
    """
    if name not in TRANSITIONS:
        raise ValueError(f"unknown transition {name!r}")
    with transaction.atomic(savepoint=locked is None):
        order = locked if locked is not None else order_locked(order_id)
        if only_from is not None and order.state != only_from:
            return None
        method = getattr(order, name)
        if not can_proceed(method):
            raise TransitionRefused(_refusal_message(order, name))
        source = order.state
        before = _field_values(order)
        method(**kwargs)
        order.step_failures = 0  # a new state, a new step: its retry budget starts again
        released = False
        if order.state in TERMINAL_STATES and order.stock_status == StockStatus.RESERVED:
            stock_release(order=order, user=actor)
            order.stock_status = StockStatus.RELEASED
            released = True
        elif order.stock_status == StockStatus.SOLD and before["stock_status"] != StockStatus.SOLD:
            stock_sold(order=order)
        elif order.stock_status == StockStatus.RETURNED and before["stock_status"] != StockStatus.RETURNED:
            stock_returned(order=order, user=actor)
        # Only what the transition changed (and updated_at): the pipeline fires many of them.
        order.save(update_fields=[name for name, value in _field_values(order).items() if before[name] != value]
                   + ["updated_at"])
        event_type = EVENT_OF_TRANSITION.get(name, "")
        event_detail = {key: str(value) for key, value in kwargs.items() if value not in (None, "")}
        event_detail.update(detail or {})
        if released:
            event_detail["stock"] = "released"
        event = OrderEvent.objects.create(
            order=order,
            event_type=event_type,
            transition=name,
            source_state=source,
            target_state=order.state,
            actor_kind=actor_kind,
            actor=actor,
            actor_email=getattr(actor, "email", "") or "",
            detail=event_detail,
            request_id=request_id_var.get() or "",
        )
        order_event.send(sender=Order, order=order, event=event)
        if actor_kind == Actor.STAFF:
            staff_action_record(
                actor=actor, obj=order, action=name, changes={"state": [source, order.state]}, detail=event_detail
            )
        # A person moved the order into a state the pipeline works on: hand it back to the pipeline.
        if actor_kind != Actor.SYSTEM and order.state not in TERMINAL_STATES | WAITING_STATES:
            order_ready_on_commit(order.pk)
    # Logged once the block is done: on SQLite the transaction holds the write lock, which every
    # other writer waits for.
    logger.info("order %s %s: %s → %s", order.pk, name, source, order.state,
                extra={"order_id": order.pk, "transition": name, "source": source, "target": order.state})
    return order


# A run locks its order at every transition: the read is compiled once (store.prepared).
_ORDER_LOCKED = PreparedRead(
    lambda pk: Order.objects.select_for_update(of=("self",)).select_related("owner").filter(pk=pk), "pk")


def order_locked(order_id: int) -> Order:
    """The order read under its row lock (inside a transaction; Order.DoesNotExist when there is
    none). The owner comes along (the customer's notification names them), locked it is not."""
    return _ORDER_LOCKED.one(pk=order_id)


def order_step_failed(*, order_id: int, state: str) -> int | None:
    """Count a transient failure (a timeout) of the step the order is in; returns the step's
    failures so far, or None when the order has left `state` meanwhile. (The retry budget:
    PIPELINE["STEP_CALL_BUDGET"] calls per step, across runs and restarts.)"""
    if not Order.objects.filter(pk=order_id, state=state).update(step_failures=F("step_failures") + 1):
        return None
    return Order.objects.filter(pk=order_id).values_list("step_failures", flat=True).first()


def order_waiting_record(*, order: Order, reason: str, detail: dict[str, Any] | None = None) -> bool:
    """Note in the order's trace that it waits in its state (e.g. for a provider's circuit to
    close), once per wait: False when its last event already says so."""
    last = order.events.order_by("-created_at", "-id").values_list("transition", "detail").first()
    if last and last[0] == "" and (last[1] or {}).get("waiting") == reason:
        return False
    OrderEvent.objects.create(order=order, source_state=order.state, target_state=order.state,
                              detail={"waiting": reason, **(detail or {})}, request_id=request_id_var.get() or "")
    return True


def order_ready_on_commit(order_id: int) -> None:
    """Send `order_ready` for the order once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: order_ready.send_robust(sender=Order, order_id=order_id))
