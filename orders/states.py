"""The order's 14 states and the groups the rest of the code asks about (README: Architecture)."""
from django.db import models


class OrderState(models.TextChoices):
    NEW = "new", "New"
    VALIDATING = "validating", "Checking inventory"
    VALIDATED = "validated", "Validated"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    PAYING = "paying", "Processing payment"
    PAID = "paid", "Paid"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    SHIPPING = "shipping", "Shipping"
    SHIPPED = "shipped", "Shipped"
    SHIP_FAILED = "ship_failed", "Shipping failed"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"
    REFUNDED = "refunded", "Refunded"


S = OrderState
TERMINAL_STATES = frozenset({S.DELIVERED, S.CANCELLED, S.FAILED, S.REFUNDED})
# States in which the order waits for a person, not for the pipeline.
WAITING_STATES = frozenset({S.AWAITING_APPROVAL})
# Everything else is the pipeline's to move on; the sweeper watches these.
WORKING_STATES = frozenset(set(S) - TERMINAL_STATES - WAITING_STATES)
# States after payment in which money was taken and not yet (fully) refunded.
PAID_STATES = frozenset({S.PAID, S.SHIPPING, S.SHIPPED, S.SHIP_FAILED, S.DELIVERED})
# States in which money was taken and can be given back (the `refund` transition's sources).
REFUNDABLE_STATES = frozenset({S.PAID, S.SHIPPED, S.SHIP_FAILED, S.DELIVERED})
CANCELLABLE_STATES = frozenset({S.NEW, S.VALIDATED, S.AWAITING_APPROVAL})


# What the customer is told when staff stop an order without a message of their own: the
# words staff type for each other stay on the order's timeline (the event's "note").
SHOP_CANCELLED_TEXT = "Cancelled by the shop"
SHOP_REJECTED_TEXT = "We could not accept this order"


class StockStatus(models.TextChoices):
    RESERVED = "reserved", "Reserved"
    RELEASED = "released", "Released"
    SOLD = "sold", "Sold (shipped)"


class Actor(models.TextChoices):
    SYSTEM = "system", "System"
    CUSTOMER = "customer", "Customer"
    STAFF = "staff", "Staff"
