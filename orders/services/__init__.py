"""Order services: every write to an order goes through one of these."""
from orders.services.actions import (
    RefundLineRequest,
    RefundPlan,
    RefundResult,
    order_act,
    order_action,
    order_approve,
    order_cancel,
    order_redrive,
    order_reject,
    order_retry,
    refund_create,
    refund_preview,
)
from orders.services.circuits import CircuitClosed, provider_circuit_close
from orders.services.dismissal import order_dismiss
from orders.services.notes import NOTE_MAX_LENGTH, staff_note_add
from orders.services.payment_pending import PaymentPending, payment_pending_record
from orders.services.payment_webhook import WebhookAnswer, payment_webhook_receive
from orders.services.placement import LineRequest, PlacementResult, PriceChanged, ShippingAddress, order_place
from orders.services.transitions import TransitionRefused, order_transition

__all__ = [
    "NOTE_MAX_LENGTH",
    "CircuitClosed",
    "LineRequest",
    "PaymentPending",
    "PlacementResult",
    "PriceChanged",
    "RefundLineRequest",
    "RefundPlan",
    "RefundResult",
    "ShippingAddress",
    "TransitionRefused",
    "WebhookAnswer",
    "order_act",
    "order_action",
    "order_approve",
    "order_cancel",
    "order_dismiss",
    "order_place",
    "order_redrive",
    "order_reject",
    "order_retry",
    "order_transition",
    "payment_pending_record",
    "payment_webhook_receive",
    "provider_circuit_close",
    "refund_create",
    "refund_preview",
    "staff_note_add",
]
