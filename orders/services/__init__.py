"""Order services: every write to an order goes through one of these."""
from orders.services.actions import (
    RefundResult,
    order_act,
    order_approve,
    order_cancel,
    order_redrive,
    order_reject,
    order_retry,
    refund_create,
)
from orders.services.circuits import CircuitClosed, provider_circuit_close
from orders.services.placement import LineRequest, PlacementResult, PriceChanged, ShippingAddress, order_place
from orders.services.transitions import TransitionRefused, order_transition

__all__ = [
    "CircuitClosed",
    "LineRequest",
    "PlacementResult",
    "PriceChanged",
    "RefundResult",
    "ShippingAddress",
    "TransitionRefused",
    "order_act",
    "order_approve",
    "order_cancel",
    "order_place",
    "order_redrive",
    "order_reject",
    "order_retry",
    "order_transition",
    "provider_circuit_close",
    "refund_create",
]
