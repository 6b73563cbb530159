"""Orders, their lines, their event timeline and refunds.

Every state change is a django-fsm transition declared on `Order` below. The methods only
change the order's own fields; `orders.services.transitions.order_transition` is the one
place that calls them: under a row lock, inside a transaction, writing the `OrderEvent`
and scheduling follow-up work on commit.
"""
from decimal import Decimal

from django.conf import settings
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from orders.states import REFUNDABLE_STATES, SHOP_REJECTED_TEXT, Actor, OrderState, StockStatus

S = OrderState


class Order(ConcurrentTransitionMixin, models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    state = FSMField(default=S.NEW, choices=S.choices, protected=True, db_index=False)

    # Shipping address
    ship_address = models.CharField("street address", max_length=200)
    ship_city = models.CharField("city", max_length=100)
    ship_state = models.CharField("state", max_length=100)
    ship_zip = models.CharField("ZIP code", max_length=10)

    total = models.DecimalField(max_digits=12, decimal_places=2)
    refunded_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    stock_status = models.CharField(max_length=10, choices=StockStatus.choices, default=StockStatus.RESERVED)

    # Payment: the provider's card token and the last 4 digits; never the card number.
    payment_token = models.CharField(max_length=64, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    transaction_id = models.CharField(max_length=64, blank=True)
    payment_retries = models.PositiveSmallIntegerField(default=0)

    # Shipment
    tracking_number = models.CharField(max_length=64, blank=True)
    carrier = models.CharField(max_length=40, blank=True)
    estimated_delivery = models.DateField(null=True, blank=True)
    shipping_retries = models.PositiveSmallIntegerField(default=0)

    # Why the order stopped (out of stock, declined, undeliverable…), shown and e-mailed to the
    # customer: never staff's internal note, which is kept on the OrderEvent only.
    failure_reason = models.CharField(max_length=200, blank=True)

    idempotency_key = models.CharField(max_length=128, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="order_owner_created"),
            models.Index(fields=["state", "updated_at"], name="order_state_updated"),
            models.Index(fields=["-created_at"], name="order_created"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="order_owner_idempotency_key",
            ),
            models.CheckConstraint(condition=models.Q(refunded_amount__lte=models.F("total")), name="order_refund_within_total"),
        ]
        permissions = [("refund_order", "Can refund orders"), ("approve_order", "Can approve or reject held orders")]

    def __str__(self) -> str:
        return f"Order {self.number}"

    @property
    def number(self) -> str:
        return f"#{self.pk:06d}" if self.pk else "#new"

    @property
    def refundable_amount(self) -> Decimal:
        # The states the `refund` transition leaves from; a shipment in flight is not refundable.
        if self.state not in REFUNDABLE_STATES:
            return Decimal("0.00")
        return self.total - self.refunded_amount

    # --- Transitions. Bodies record what the transition carries. ---------------------------

    @transition(field=state, source=S.NEW, target=S.VALIDATING)
    def start_validation(self) -> None:
        pass

    @transition(field=state, source=S.VALIDATING, target=S.VALIDATED)
    def validation_passed(self) -> None:
        pass

    @transition(field=state, source=S.VALIDATING, target=S.FAILED)
    def validation_failed(self, *, reason: str = "Out of stock") -> None:
        self.failure_reason = reason

    @transition(field=state, source=S.VALIDATED, target=S.AWAITING_APPROVAL)
    def hold_for_review(self, *, rule: str = "") -> None:
        pass

    @transition(field=state, source=S.AWAITING_APPROVAL, target=S.PAYING)
    def approve(self) -> None:
        pass

    @transition(field=state, source=S.AWAITING_APPROVAL, target=S.CANCELLED)
    def reject(self, *, reason: str = "") -> None:
        self.failure_reason = reason or SHOP_REJECTED_TEXT

    @transition(field=state, source=S.VALIDATED, target=S.PAYING)
    def start_payment(self) -> None:
        pass

    @transition(field=state, source=S.PAYING, target=S.PAID)
    def payment_approved(self, *, transaction_id: str, card_last4: str = "") -> None:
        self.transaction_id = transaction_id
        if card_last4:
            self.card_last4 = card_last4
        self.failure_reason = ""

    @transition(field=state, source=S.PAYING, target=S.PAYMENT_FAILED)
    def payment_declined(self, *, reason: str = "Payment declined") -> None:
        self.failure_reason = reason

    @transition(field=state, source=S.PAYMENT_FAILED, target=S.PAYING)
    def retry_payment(self) -> None:
        self.payment_retries += 1

    @transition(field=state, source=S.PAYMENT_FAILED, target=S.FAILED)
    def abandon_payment(self) -> None:
        pass

    @transition(field=state, source=S.PAID, target=S.SHIPPING)
    def start_shipping(self) -> None:
        pass

    @transition(field=state, source=S.SHIPPING, target=S.SHIPPED)
    def shipping_confirmed(self, *, tracking_number: str, carrier: str, estimated_delivery) -> None:
        self.tracking_number = tracking_number
        self.carrier = carrier
        self.estimated_delivery = estimated_delivery
        self.failure_reason = ""
        self.stock_status = StockStatus.SOLD

    @transition(field=state, source=S.SHIPPING, target=S.SHIP_FAILED)
    def shipping_failed(self, *, reason: str = "Shipping failed") -> None:
        self.failure_reason = reason

    @transition(field=state, source=S.SHIP_FAILED, target=S.SHIPPING)
    def retry_shipping(self) -> None:
        self.shipping_retries += 1

    @transition(field=state, source=[S.SHIP_FAILED, S.PAID, S.SHIPPED, S.DELIVERED], target=S.REFUNDED)
    def refund(self) -> None:
        pass

    @transition(field=state, source=S.SHIPPED, target=S.DELIVERED)
    def deliver_order(self) -> None:
        pass

    @transition(field=state, source=S.NEW, target=S.CANCELLED)
    def cancel_order(self, *, reason: str = "") -> None:
        self.failure_reason = reason

    @transition(field=state, source=[S.VALIDATED, S.AWAITING_APPROVAL], target=S.CANCELLED)
    def cancel_validated(self, *, reason: str = "") -> None:
        self.failure_reason = reason


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="order_lines")
    product_public_id = models.CharField(max_length=32)
    name = models.CharField(max_length=200)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    quantity = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class OrderEvent(models.Model):
    """One row per thing that happened to an order: the timeline, the audit trail."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    event_type = models.CharField(max_length=40, blank=True, help_text="Published event, e.g. order.paid.")
    transition = models.CharField(max_length=40, blank=True)
    source_state = models.CharField(max_length=20, blank=True)
    target_state = models.CharField(max_length=20, blank=True)
    actor_kind = models.CharField(max_length=10, choices=Actor.choices, default=Actor.SYSTEM)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept when the account is deleted (the foreign key is then emptied): who did it stays on record.
    actor_email = models.EmailField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["order", "created_at"], name="orderevent_order_created")]

    # Keys of `detail` for staff only (the note staff add when they reject or cancel): never
    # shown or sent to the customer.
    STAFF_ONLY_DETAIL = frozenset({"note"})

    def __str__(self) -> str:
        return f"{self.order.number} {self.transition or self.event_type}"

    @property
    def customer_detail(self) -> dict:
        return {key: value for key, value in (self.detail or {}).items() if key not in self.STAFF_ONLY_DETAIL}

    @property
    def actor_label(self) -> str:
        who = self.actor_email or (str(self.actor) if self.actor_id else "")
        if self.actor_kind == Actor.SYSTEM or not who:
            return self.get_actor_kind_display()
        return f"{self.get_actor_kind_display()} {who}"


class Refund(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.CharField(max_length=200)
    gateway_reference = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A retried request with the same key gets this refund back instead of paying again.
    idempotency_key = models.CharField(max_length=128, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(
                fields=["order", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="refund_order_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return f"Refund {self.amount} on {self.order.number}"


class OrderAwaitingApproval(Order):
    """The admin's approval queue: orders a review rule held, oldest first (orders.admin)."""

    class Meta:
        proxy = True
        ordering = ["created_at", "id"]
        verbose_name = "order awaiting approval"
        verbose_name_plural = "approval queue"
