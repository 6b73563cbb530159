"""Orders, their lines, their event timeline, refunds and staff's internal notes.

Every state change is a django-fsm transition declared on `Order` below. The methods only
change the order's own fields; `orders.services.transitions.order_transition` is the one
place that calls them: under a row lock, inside a transaction, writing the `OrderEvent`
and scheduling follow-up work on commit.
"""
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models.functions import Round
from django_fsm import ConcurrentTransitionMixin, FSMField, can_proceed, transition

from accounts.models import User
from orders.meaning import (
    CANCELLED,
    CURRENT,
    DONE,
    FAILED,
    OMITTED,
    REFUNDED,
    SKIPPED,
    NextStep,
    Option,
    Stage,
    means,
)
from orders.workflow import workflow_version_current
from providers.models import ShippingService
from store.money import money
from store.permissions import ORDER_APPROVE, ORDER_CHANGE, ORDER_REFUND, SYSTEM, OwnerOr


class OrderState(models.TextChoices):
    NEW = "new", "New"
    CHECKING_ADDRESS = "checking_address", "Checking the address"
    VALIDATING = "validating", "Checking inventory"
    SCREENING = "screening", "Screening for risk"
    VALIDATED = "validated", "Validated"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    PAYING = "paying", "Processing payment"
    PAID = "paid", "Paid"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    SHIPPING = "shipping", "Shipping"
    SHIPPED = "shipped", "Shipped"
    SHIP_FAILED = "ship_failed", "Shipping failed"
    STALLED = "stalled", "Delayed"
    DELIVERED = "delivered", "Delivered"
    RETURNING = "returning", "Returned, refund under way"
    RETURNED = "returned", "Returned"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"
    REFUNDED = "refunded", "Refunded"


# The customer's timeline of an order, in order; the transitions' `stages` set their status.
TIMELINE = (
    Stage("created", "Created"),
    Stage("address", "Checking the address"),
    Stage("inventory", "Checking inventory"),
    Stage("risk", "Verifying the order"),
    Stage("approval", "Awaiting approval", when_reached=True),
    Stage("payment", "Processing payment"),
    Stage("shipping", "Shipping"),
    Stage("delivered", "Delivered"),
    Stage("returned", "Returned to the shop", when_reached=True),
    Stage("refunded", "Refunded", when_reached=True),
    Stage("cancelled", "Cancelled", when_reached=True),
)


class StockStatus(models.TextChoices):
    RESERVED = "reserved", "Reserved"
    RELEASED = "released", "Released"
    SOLD = "sold", "Sold (shipped)"
    RETURNED = "returned", "Returned to stock"


class Actor(models.TextChoices):
    SYSTEM = "system", "System"
    CUSTOMER = "customer", "Customer"
    STAFF = "staff", "Staff"


# What the customer is told when staff stop an order without a message of their own: the
# words staff type for each other stay on the order's timeline (the event's "note").
SHOP_CANCELLED_TEXT = "Cancelled by the shop"
SHOP_REJECTED_TEXT = "We could not accept this order"
# What the customer reads while a person reviews the order (a hold): no money has moved yet.
REVIEWING_TEXT = "The shop is reviewing this order before taking payment · nothing was charged yet"

S = OrderState


class Next:
    """What the customer may do once an order ended or while it waits, as the transitions below
    declare it (`next_step=`); the order page and the e-mail put the sentence about the money first."""

    ANOTHER_CARD = NextStep("Try again puts these items back in your cart with this address, to pay with another "
                            "card.", (Option.ANOTHER_CARD,))
    CORRECT_ADDRESS = NextStep("Correct the address puts these items back in your cart and opens the checkout with "
                               "this address, to correct it.", (Option.CORRECT_ADDRESS,))
    CONTACT_SHOP = NextStep("The shop stopped this order. If you have a question about it, contact the shop.",
                            (Option.CONTACT_SHOP,))
    SHOP_AGAIN = NextStep("You cancelled this order. You are welcome to shop again.", (Option.SHOP_AGAIN,))
    OUT_OF_STOCK = NextStep("The shop lists what is in stock now: you are welcome to shop again.",
                            (Option.SHOP_AGAIN,))
    # The address check passed but the carrier's label failed after the charge (the saga's
    # refund): the address is not known to be wrong, so the customer is not asked to correct it.
    NOT_SHIPPED = NextStep("We could not ship this order, so we refunded it; a refund may take a few days to show "
                           "on your statement. If you have a question about it, contact the shop.",
                           (Option.CONTACT_SHOP, Option.SHOP_AGAIN))
    DELIVERED = NextStep("Something wrong with your order? Contact the shop.",
                         (Option.SHOP_AGAIN, Option.CONTACT_SHOP))
    REFUNDED = NextStep("A refund may take a few days to show on your statement. If you have a question about it, "
                        "contact the shop.", (Option.CONTACT_SHOP, Option.SHOP_AGAIN))
    REVIEWED = NextStep("Nothing is needed from you: we e-mail you as soon as the shop has decided.")
    DELAYED = NextStep("Nothing is needed from you: the shop goes on with your order once the provider answers.")
    # Not a transition's: a charge pending at the bank (3-D Secure, a transfer) is an event of its own.
    BANK = NextStep("Nothing more is needed from you: your order goes on by itself once your bank confirms the "
                    "payment.")


# --- The customer's sentences on the timeline, for transitions whose note is computed -----

def _attempts(detail: dict) -> str:
    attempts = int(detail.get("attempts") or 1)
    return f" after {attempts} attempts" if attempts > 1 else ""


def _payment_approved_note(order, detail: dict) -> str:
    last4 = detail.get("card_last4") or order.card_last4
    return f"Payment approved{_attempts(detail)}" + (f" · card ending {last4}" if last4 else "")


def _payment_abandoned_note(order, detail: dict) -> str:
    # Retries of a declined card charged nothing: say so, rather than count attempts that read as charges.
    reason = (detail.get("reason") or order.failure_reason or "Payment failed").rstrip(".")
    return f"{reason} · no charge was made"


def _label_note(order, detail: dict) -> str:
    carrier = detail.get("carrier") or order.carrier
    tracking = detail.get("tracking_number") or order.tracking_number
    return f"Label created · {carrier} {tracking}".strip()


def _refund_note(order, detail: dict) -> str:
    amount = detail.get("amount") or order.refunded_amount
    why = detail.get("reason", "")
    return f"{money(amount)} refunded" + (f" · {why}" if why else "")


def _returned_note(order, detail: dict) -> str:
    why = detail.get("reason") or order.failure_reason
    follows = " · your refund follows" if order.state == S.RETURNING else ""
    return "The carrier returned the parcel to the shop" + (f" · {why}" if why else "") + follows


def _return_refunded_note(order, detail: dict) -> str:
    # Everything refunded on the order (an earlier partial refund too): what the e-mail says.
    return f"The parcel is back at the shop · {money(order.refunded_amount)} refunded in all"


def _stalled_note(order, detail: dict) -> str:
    return "A provider did not answer; the shop will try again." + (" No charge was made." if nothing_charged(order) else "")


def stalled_in_checking_address(order) -> bool:
    return order.stalled_in == S.CHECKING_ADDRESS


def stalled_in_validating(order) -> bool:
    return order.stalled_in == S.VALIDATING


def stalled_in_paying(order) -> bool:
    return order.stalled_in == S.PAYING


def stalled_in_shipping(order) -> bool:
    return order.stalled_in == S.SHIPPING


def nothing_charged(order) -> bool:
    return not order.transaction_id


class Order(ConcurrentTransitionMixin, models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    state = FSMField(default=S.NEW, choices=S.choices, protected=True, db_index=False)

    # Shipping address
    ship_address = models.CharField("street address", max_length=200)
    ship_city = models.CharField("city", max_length=100)
    ship_state = models.CharField("state", max_length=100)
    ship_zip = models.CharField("ZIP code", max_length=10)

    # What the customer confirmed at checkout: the items' sum, the shipping they chose (service,
    # price, the delivery window promised, as dates), and `total` = subtotal + shipping_cost,
    # which is what is charged.
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    shipping_service = models.CharField(max_length=20, choices=ShippingService.choices,
                                        default=ShippingService.STANDARD)
    shipping_cost = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    delivery_earliest = models.DateField(null=True, blank=True)
    delivery_latest = models.DateField(null=True, blank=True)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    refunded_amount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    stock_status = models.CharField(max_length=10, choices=StockStatus.choices, default=StockStatus.RESERVED)

    # Payment: the provider that holds the card (settings.PAYMENT_PROVIDERS; refunds go back to
    # it), its card token and the last 4 digits, never the card number; `transaction_id` is
    # that provider's reference of the charge.
    payment_provider = models.CharField(max_length=40, blank=True)
    payment_token = models.CharField(max_length=64, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    transaction_id = models.CharField(max_length=64, blank=True)
    payment_retries = models.PositiveSmallIntegerField(default=0)
    # The charge the order waits for while paying: its idempotency key, set as the order enters
    # `paying` (the payment step charges with it), so the provider's word about another charge
    # never moves this order; once the provider answered "pending", that charge's reference and
    # since when. Emptied when the payment settles (approved, declined, expired).
    charge_key = models.CharField(max_length=128, blank=True)
    charge_pending_reference = models.CharField(max_length=64, blank=True)
    charge_pending_since = models.DateTimeField(null=True, blank=True)

    # Shipment
    tracking_number = models.CharField(max_length=64, blank=True)
    carrier = models.CharField(max_length=40, blank=True)
    estimated_delivery = models.DateField(null=True, blank=True)
    shipping_retries = models.PositiveSmallIntegerField(default=0)

    # A provider kept failing transiently: the working state the order stalled in (re-drive
    # returns it there), and the transient failures its current step has had (the retry budget,
    # PIPELINE["STEP_CALL_BUDGET"]; back to 0 on every state change).
    stalled_in = models.CharField(max_length=20, blank=True)
    step_failures = models.PositiveSmallIntegerField(default=0)

    # Why the order stopped (out of stock, declined, undeliverable…), shown and e-mailed to the
    # customer: never staff's internal note, which is kept on the OrderEvent only.
    failure_reason = models.CharField(max_length=200, blank=True)
    # The bank's code of the payment's latest decline (providers.declines), for staff only: the
    # customer reads the advice in `failure_reason`. Emptied when a payment is approved.
    decline_code = models.CharField(max_length=40, blank=True)

    # The workflow version current when the order was placed (workflows.models.WorkflowVersion.number):
    # the order runs on its policy to its end. Set in the order's own INSERT.
    workflow_version = models.PositiveIntegerField(default=workflow_version_current, editable=False)

    # From the risk provider's screening: 0 (safe) to 100; staff only, never shown to the customer.
    risk_score = models.PositiveSmallIntegerField(null=True, blank=True)

    idempotency_key = models.CharField(max_length=128, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)

    # The failed or cancelled order this one was placed to replace ("Try again", a payment link).
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")

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
            # Rounded to the cent: SQLite adds decimals as binary floats (24.99 + 67.99 ≠ 92.98 there).
            models.CheckConstraint(condition=models.Q(total=Round(models.F("subtotal") + models.F("shipping_cost"), 2)),
                                   name="order_total_is_subtotal_and_shipping"),
            models.CheckConstraint(condition=models.Q(shipping_cost__gte=0), name="order_shipping_cost_not_negative"),
        ]
        permissions = [("refund_order", "Can refund orders"), ("approve_order", "Can approve or reject held orders")]

    def __str__(self) -> str:
        return f"Order {self.number}"

    @property
    def number(self) -> str:
        return f"#{self.pk:06d}" if self.pk else "#new"

    def _charge_await(self) -> None:
        """Entering `paying`: the key of the charge the payment step issues (one per payment attempt)."""
        self.charge_key = f"order-{self.pk}-charge-{self.payment_retries}"
        self.charge_pending_reference, self.charge_pending_since = "", None

    def _charge_settled(self) -> None:
        self.charge_key = self.charge_pending_reference = ""
        self.charge_pending_since = None

    def ship_to(self) -> dict[str, str]:
        """{address, city, state, zip}: where the order goes, named as the checkout form names it."""
        return {"address": self.ship_address, "city": self.ship_city, "state": self.ship_state, "zip": self.ship_zip}

    @property
    def refundable_amount(self) -> Decimal:
        # Only where a full refund's transition may leave from (`refund`, or the refund of a parcel
        # the carrier returned): a shipment in flight is not refundable.
        if not (can_proceed(self.refund) or can_proceed(self.return_refunded)):
            return Decimal("0.00")
        return self.total - self.refunded_amount

    # --- Transitions: what each one means (orders.meaning) and who may fire it, declared on it.
    # Bodies record what the transition carries.

    # The carrier checks the address first, before any money moves: an undeliverable one ends
    # the order with nothing charged, and the customer places it again with a corrected address.
    @transition(field=state, source=S.NEW, target=S.CHECKING_ADDRESS, permission=SYSTEM,
                custom=means("Start checking the address", stages=(("address", CURRENT),)))
    def start_address_check(self) -> None:
        pass

    @transition(field=state, source=S.CHECKING_ADDRESS, target=S.VALIDATING, permission=SYSTEM,
                custom=means("Address confirmed", stages=(("address", DONE), ("inventory", CURRENT)),
                             note="The carrier delivers to this address"))
    def address_confirmed(self) -> None:
        pass

    @transition(field=state, source=S.CHECKING_ADDRESS, target=S.FAILED, permission=SYSTEM,
                custom=means("Undeliverable address", event="order.failed", stages=(("address", FAILED),),
                             next_step=Next.CORRECT_ADDRESS))
    def address_undeliverable(self, *, reason: str = "Undeliverable address") -> None:
        self.failure_reason = reason

    @transition(field=state, source=S.VALIDATING, target=S.SCREENING, permission=SYSTEM,
                custom=means("Inventory confirmed", event="order.validated", stages=(("inventory", DONE),),
                             note="All items are in stock"))
    def validation_passed(self) -> None:
        pass

    # Risk screening is optional: an order whose workflow version switches it off goes straight to
    # the review, and its timeline has no screening stage.
    @transition(field=state, source=S.VALIDATING, target=S.VALIDATED, permission=SYSTEM,
                custom=means("Inventory confirmed (no risk screening)", event="order.validated",
                             stages=(("inventory", DONE), ("risk", OMITTED)), note="All items are in stock"))
    def validation_passed_unscreened(self) -> None:
        pass

    @transition(field=state, source=S.VALIDATING, target=S.FAILED, permission=SYSTEM,
                custom=means("Out of stock", event="order.failed", stages=(("inventory", FAILED),),
                             next_step=Next.OUT_OF_STOCK))
    def validation_failed(self, *, reason: str = "Out of stock") -> None:
        self.failure_reason = reason

    @transition(field=state, source=S.SCREENING, target=S.VALIDATED, permission=SYSTEM,
                custom=means("Risk scored", stages=(("risk", DONE),), note="Order verified"))
    def risk_scored(self, *, risk_score: int) -> None:
        self.risk_score = risk_score

    # The risk provider did not answer: a person looks at the order instead.
    @transition(field=state, source=S.SCREENING, target=S.AWAITING_APPROVAL, permission=SYSTEM,
                custom=means("Hold: risk screening unavailable", event="order.held", waits=True,
                             stages=(("risk", SKIPPED), ("approval", CURRENT)),
                             note=REVIEWING_TEXT, next_step=Next.REVIEWED))
    def risk_unavailable(self, *, reason: str = "") -> None:
        pass

    @transition(field=state, source=S.VALIDATED, target=S.AWAITING_APPROVAL, permission=SYSTEM,
                custom=means("Hold for review", event="order.held", waits=True, stages=(("approval", CURRENT),),
                             note=REVIEWING_TEXT, next_step=Next.REVIEWED))
    def hold_for_review(self, *, rule: str = "") -> None:
        pass

    @transition(field=state, source=S.AWAITING_APPROVAL, target=S.PAYING, permission=ORDER_APPROVE,
                custom=means("Approve", action="approve", done="approved", not_own=True,
                             stages=(("approval", DONE),), note="Approved by the shop"))
    def approve(self) -> None:
        self._charge_await()

    @transition(field=state, source=S.AWAITING_APPROVAL, target=S.CANCELLED, permission=ORDER_APPROVE,
                custom=means("Reject", event="order.cancelled", action="reject", done="rejected", not_own=True,
                             confirm=True, default_reason=SHOP_REJECTED_TEXT, next_step=Next.CONTACT_SHOP,
                             stages=(("approval", FAILED), ("cancelled", CANCELLED))))
    def reject(self, *, reason: str = "") -> None:
        self.failure_reason = reason or SHOP_REJECTED_TEXT

    # A review rule refuses the order before any money moves; the customer reads the rule's message.
    @transition(field=state, source=S.VALIDATED, target=S.CANCELLED, permission=SYSTEM,
                custom=means("Rejected by a review rule", event="order.cancelled", next_step=Next.CONTACT_SHOP,
                             stages=(("approval", FAILED), ("cancelled", CANCELLED))))
    def rule_reject(self, *, reason: str) -> None:
        self.failure_reason = reason

    # The hold's deadline passed and its expiry action decides instead of a person.
    @transition(field=state, source=S.AWAITING_APPROVAL, target=S.PAYING, permission=SYSTEM,
                custom=means("Approved at the review deadline", stages=(("approval", DONE),),
                             note="Approved by the shop"))
    def auto_approve(self) -> None:
        self._charge_await()

    @transition(field=state, source=S.AWAITING_APPROVAL, target=S.CANCELLED, permission=SYSTEM,
                custom=means("Cancelled at the review deadline", event="order.cancelled", next_step=Next.CONTACT_SHOP,
                             stages=(("approval", FAILED), ("cancelled", CANCELLED))))
    def auto_reject(self, *, reason: str = "") -> None:
        self.failure_reason = reason or SHOP_REJECTED_TEXT

    @transition(field=state, source=S.VALIDATED, target=S.PAYING, permission=SYSTEM,
                custom=means("Start payment", stages=(("payment", CURRENT),)))
    def start_payment(self) -> None:
        self._charge_await()

    @transition(field=state, source=S.PAYING, target=S.PAID, permission=SYSTEM,
                custom=means("Payment approved", event="order.paid", stages=(("payment", DONE),),
                             note=_payment_approved_note))
    def payment_approved(self, *, transaction_id: str, card_last4: str = "") -> None:
        self._charge_settled()
        self.transaction_id = transaction_id
        if card_last4:
            self.card_last4 = card_last4
        self.failure_reason = self.decline_code = ""

    # A soft decline (GatewayResult.retryable): the pipeline asks again as the order's policy says.
    @transition(field=state, source=S.PAYING, target=S.PAYMENT_FAILED, permission=SYSTEM,
                custom=means("Payment declined", event="order.payment_failed", stages=(("payment", FAILED),)))
    def payment_declined(self, *, reason: str = "Payment declined", decline_code: str = "") -> None:
        self._charge_settled()
        self.failure_reason = reason
        self.decline_code = decline_code

    # A hard decline (stolen card, expired card…: providers.declines): asking the bank again cannot
    # change its answer and card networks penalise it, so the order ends after this one charge.
    @transition(field=state, source=S.PAYING, target=S.FAILED, permission=SYSTEM,
                custom=means("Payment declined, not retried (hard decline)", event="order.failed",
                             stages=(("payment", FAILED),), note=_payment_abandoned_note,
                             next_step=Next.ANOTHER_CARD))
    def payment_declined_hard(self, *, reason: str, decline_code: str) -> None:
        self._charge_settled()
        self.failure_reason = reason
        self.decline_code = decline_code

    # A pending payment (3-D Secure, a transfer) the provider never confirmed: nothing was charged.
    @transition(field=state, source=S.PAYING, target=S.FAILED, permission=SYSTEM,
                custom=means("Payment not confirmed", event="order.failed", stages=(("payment", FAILED),),
                             next_step=Next.ANOTHER_CARD))
    def payment_expired(self, *, reason: str) -> None:
        self._charge_settled()
        self._failed_otherwise(reason)

    @transition(field=state, source=S.PAYMENT_FAILED, target=S.PAYING, permission=ORDER_CHANGE,
                custom=means("Retry payment", action="retry", done="retried", doing="retry orders",
                             stages=(("payment", CURRENT),),
                             note="Trying again (retry {payment_retries})"))
    def retry_payment(self) -> None:
        self.payment_retries += 1
        self._charge_await()

    @transition(field=state, source=S.PAYMENT_FAILED, target=S.FAILED, permission=SYSTEM,
                custom=means("Give up on payment", event="order.failed", stages=(("payment", FAILED),),
                             note=_payment_abandoned_note, next_step=Next.ANOTHER_CARD))
    def abandon_payment(self) -> None:
        pass

    @transition(field=state, source=S.PAID, target=S.SHIPPING, permission=SYSTEM,
                custom=means("Start shipping", stages=(("shipping", CURRENT),)))
    def start_shipping(self) -> None:
        pass

    @transition(field=state, source=S.SHIPPING, target=S.SHIPPED, permission=SYSTEM,
                custom=means("Shipped", event="order.shipped", stages=(("shipping", DONE),), note=_label_note))
    def shipping_confirmed(self, *, tracking_number: str, carrier: str, estimated_delivery) -> None:
        self.tracking_number = tracking_number
        self.carrier = carrier
        self.estimated_delivery = estimated_delivery
        self.failure_reason = ""
        self.stock_status = StockStatus.SOLD

    @transition(field=state, source=S.SHIPPING, target=S.SHIP_FAILED, permission=SYSTEM,
                custom=means("Shipping failed", event="order.ship_failed", stages=(("shipping", FAILED),)))
    def shipping_failed(self, *, reason: str = "Shipping failed") -> None:
        self.failure_reason = reason

    @transition(field=state, source=S.SHIP_FAILED, target=S.SHIPPING, permission=ORDER_CHANGE,
                custom=means("Retry shipping", action="retry", done="retried", doing="retry orders",
                             stages=(("shipping", CURRENT),),
                             note="Trying again (retry {shipping_retries})"))
    def retry_shipping(self) -> None:
        self.shipping_retries += 1

    # Fired by `orders.services.refund_create` once nothing is left to refund (its own form, not a button).
    @transition(field=state, source=[S.SHIP_FAILED, S.PAID, S.SHIPPED, S.DELIVERED], target=S.REFUNDED,
                permission=ORDER_REFUND,
                custom=means("Refund", event="order.refunded", action="refund", done="refunded", not_own=True,
                             button=False, after_end=True, stages=(("refunded", REFUNDED),), note=_refund_note,
                             next_step=Next.REFUNDED.unless(after={S.SHIP_FAILED: Next.NOT_SHIPPED})))
    def refund(self) -> None:
        pass

    @transition(field=state, source=S.SHIPPED, target=S.DELIVERED, permission=SYSTEM,
                custom=means("Delivered", event="order.delivered", stages=(("delivered", DONE),),
                             note="Your order has arrived", next_step=Next.DELIVERED))
    def deliver_order(self) -> None:
        pass

    # The carrier brought the parcel back (its tracking webhook, or the store asking it): the
    # goods go back to stock now, and the pipeline refunds the payment in full (`return_refunded`).
    @transition(field=state, source=S.SHIPPED, target=S.RETURNING, permission=SYSTEM,
                custom=means("Returned to sender", stages=(("delivered", FAILED), ("returned", CURRENT)),
                             note=_returned_note))
    def return_to_sender(self, *, reason: str = "") -> None:
        self.failure_reason = reason
        self.stock_status = StockStatus.RETURNED

    # Fired by `orders.services.refund_create` once the returned order's payment is all paid back.
    @transition(field=state, source=S.RETURNING, target=S.RETURNED, permission=SYSTEM,
                custom=means("Returned and refunded", event="order.returned",
                             stages=(("returned", DONE), ("refunded", REFUNDED)), note=_return_refunded_note,
                             next_step=Next.REFUNDED))
    def return_refunded(self) -> None:
        pass

    # A step spent its retry budget on timeouts (not a business answer): the order waits for
    # staff to re-drive it once the provider is back (the admin's "Delayed" list).
    @transition(field=state, source=[S.CHECKING_ADDRESS, S.VALIDATING, S.PAYING, S.SHIPPING], target=S.STALLED,
                permission=SYSTEM,
                custom=means("Provider unavailable", waits=True, note=_stalled_note, next_step=Next.DELAYED))
    def provider_unavailable(self, *, reason: str) -> None:
        self.stalled_in = self.state
        self._failed_otherwise(reason)

    @transition(field=state, source=S.STALLED, target=S.CHECKING_ADDRESS, permission=ORDER_CHANGE,
                conditions=[stalled_in_checking_address],
                custom=means("Re-drive address check", action="redrive", done="re-driven", doing="re-drive orders",
                             stages=(("address", CURRENT),), note="Trying again"))
    def redrive_address(self) -> None:
        self.stalled_in = self.failure_reason = ""

    @transition(field=state, source=S.STALLED, target=S.VALIDATING, permission=ORDER_CHANGE,
                conditions=[stalled_in_validating],
                custom=means("Re-drive inventory check", action="redrive", done="re-driven", doing="re-drive orders",
                             stages=(("inventory", CURRENT),), note="Trying again"))
    def redrive_inventory(self) -> None:
        self.stalled_in = self.failure_reason = ""

    @transition(field=state, source=S.STALLED, target=S.PAYING, permission=ORDER_CHANGE,
                conditions=[stalled_in_paying],
                custom=means("Re-drive payment", action="redrive", done="re-driven", doing="re-drive orders",
                             stages=(("payment", CURRENT),), note="Trying again"))
    def redrive_payment(self) -> None:
        self.stalled_in = self.failure_reason = ""
        self._charge_await()

    @transition(field=state, source=S.STALLED, target=S.SHIPPING, permission=ORDER_CHANGE,
                conditions=[stalled_in_shipping],
                custom=means("Re-drive shipping", action="redrive", done="re-driven", doing="re-drive orders",
                             stages=(("shipping", CURRENT),), note="Trying again"))
    def redrive_shipping(self) -> None:
        self.stalled_in = self.failure_reason = ""

    # From every state before money moves: while the pipeline checks the address or the stock or
    # screens the order (its step then finds the order gone from its state and stops), held,
    # declined, or delayed with nothing charged. Never while a payment is in flight (paying).
    @transition(field=state, source=[S.NEW, S.CHECKING_ADDRESS, S.VALIDATING, S.SCREENING, S.VALIDATED,
                                     S.AWAITING_APPROVAL, S.PAYMENT_FAILED, S.STALLED], target=S.CANCELLED,
                permission=OwnerOr(ORDER_CHANGE), conditions=[nothing_charged],
                custom=means("Cancel order", event="order.cancelled", action="cancel", done="cancelled",
                             doing="cancel other customers' orders", confirm=True, default_reason=SHOP_CANCELLED_TEXT,
                             stages=(("cancelled", CANCELLED),),
                             next_step=Next.SHOP_AGAIN.unless(by_shop=Next.CONTACT_SHOP)))
    def cancel(self, *, reason: str = "") -> None:
        self._failed_otherwise(reason)

    def _failed_otherwise(self, reason: str) -> None:
        """The order stops for `reason`, not the bank's decline: `decline_code` names the decline
        the failure reason reports, so an earlier decline's code goes (the trace keeps it)."""
        self.failure_reason = reason
        self.decline_code = ""


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


class RefundLine(models.Model):
    """Units of one order line a refund paid back; `restocked`: they went back to stock."""

    refund = models.ForeignKey("Refund", on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="refund_lines")
    quantity = models.PositiveSmallIntegerField()
    restocked = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        default_permissions = ()  # part of its refund, seen with it ("Can view refund")
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="refundline_quantity_positive"),
            models.UniqueConstraint(fields=["refund", "line"], name="refundline_once_per_refund"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.line.name}"


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

    # Keys of `detail` for staff only (the note staff add when they reject or cancel, their
    # dismissal of an ended order, the review that held or rejected it, the bank's decline code and
    # its own words): never shown or sent to the customer.
    STAFF_ONLY_DETAIL = frozenset({"note", "risk_score", "dismissed", "rule", "evaluation", "hold", "deadline",
                                   "decline_code", "bank_reason"})

    def __str__(self) -> str:
        return f"{self.order.number} {self.transition or self.event_type}"

    @property
    def customer_detail(self) -> dict:
        return {key: value for key, value in (self.detail or {}).items() if key not in self.STAFF_ONLY_DETAIL}

    @property
    def staff_only(self) -> bool:
        """A row that tells the customer nothing: no transition, no event, only staff-only detail."""
        return not (self.transition or self.event_type or self.customer_detail)

    @property
    def actor_label(self) -> str:
        who = self.actor_email or (str(self.actor) if self.actor_id else "")
        if self.actor_kind == Actor.SYSTEM or not who:
            return self.get_actor_kind_display()
        return f"{self.get_actor_kind_display()} {who}"


class Refund(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    # Of `amount`, what gives back the order's shipping cost (the rest gives back items).
    shipping_amount = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
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
        # Refunds are made by the order's "refund" transition, which "orders.refund_order" ("Can
        # refund orders") governs everywhere; the rows are only ever seen, so seeing is their one
        # permission (no "Can add refund" beside it).
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(condition=models.Q(shipping_amount__gte=0, shipping_amount__lte=models.F("amount")),
                                   name="refund_shipping_within_amount"),
            models.UniqueConstraint(
                fields=["order", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="refund_order_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return f"Refund {money(self.amount)} on {self.order.number}"


class PaymentLink(models.Model):
    """A link staff e-mail to the owner of an order whose payment failed: it opens the checkout
    with that order's lines and address (orders.services.reorder). Its URL carries the row's id
    signed with django.core.signing; it works once (`used_at`), until `expires_at`."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payment_links")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Payment link {self.pk} for {self.order.number}"


class PaymentWebhookEvent(models.Model):
    """An event the payment provider's webhook delivered (providers.webhooks), kept once per
    event id: written in the transaction that applied it, so a redelivery changes nothing.

    A delivery refused although its signature was genuine (stale: a clock off by more than the
    tolerance) is kept as `refused`, and replaced by the event's first delivery that is applied
    or ignored. Forged deliveries are never kept (orders.services.payment_webhook counts them).

    An approval of a charge the order does not want (another charge's key, or an order that no
    longer waits for one) is `unwanted`: the store refunds that charge at the provider when it is
    really this order's and no order holds it (orders.services.payment_reconcile), and staff
    see it under Needs attention.
    """

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        IGNORED = "ignored", "Ignored"
        REFUSED = "refused", "Refused (genuine signature, stale)"

    class Unwanted(models.TextChoices):
        OPEN = "open", "Approved charge not wanted: to refund"
        REFUNDED = "refunded", "Refunded at the provider"
        NOT_CHARGED = "not_charged", "Not charged at the provider: nothing to refund"
        NOT_OURS = "not_ours", "Not refunded: an order holds the charge or it is not this order's"

    event_id = models.CharField(max_length=64, unique=True)
    event_type = models.CharField(max_length=40)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payment_webhook_events")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    # What the order was doing when it came, why it was ignored or refused, the transition it fired.
    order_state = models.CharField(max_length=20)
    note = models.CharField(max_length=200, blank=True)
    transition = models.CharField(max_length=40, blank=True)
    payload = models.JSONField(default=dict)
    # The delivery's request (its latest, for a stale delivery replaced by the event's first applied one).
    request_id = models.CharField(max_length=128, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    # An unwanted approval: where its refund stands, the refund's reference at the provider and
    # when the store last asked the provider about it.
    unwanted = models.CharField(max_length=12, choices=Unwanted.choices, blank=True)
    refund_reference = models.CharField(max_length=64, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [models.Index(fields=["unwanted", "received_at"], name="webhookevent_unwanted")]

    def __str__(self) -> str:
        return f"{self.event_id} {self.event_type} ({self.outcome})"


class TrackingEvent(models.Model):
    """A tracking update of an order's parcel from the carrier (providers.base.TrackingUpdate), kept
    once per event id whether it came by the carrier's webhook or the store asked for it
    (orders.services.tracking): a redelivery, or the same update found again, changes nothing.

    `applied`: it is on the order's timeline (and fired `transition`, if any); `ignored`: it is
    not about the order's parcel (another tracking number), or came after the order ended.
    """

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        IGNORED = "ignored", "Ignored"

    class Via(models.TextChoices):
        WEBHOOK = "webhook", "Carrier's webhook"
        LOOKUP = "lookup", "Asked the carrier"

    event_id = models.CharField(max_length=64, unique=True)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="tracking_events")
    tracking_number = models.CharField(max_length=64)
    status = models.CharField(max_length=40)
    description = models.CharField(max_length=200, blank=True)
    location = models.CharField(max_length=100, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    via = models.CharField(max_length=10, choices=Via.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    # What the order was doing when it came, why it was ignored, the transition it fired.
    order_state = models.CharField(max_length=20)
    note = models.CharField(max_length=200, blank=True)
    transition = models.CharField(max_length=40, blank=True)
    request_id = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["order", "occurred_at"], name="trackingevent_order_occurred")]

    def __str__(self) -> str:
        return f"{self.event_id} {self.status} ({self.outcome})"


class OrderAwaitingApproval(Order):
    """The admin's approval queue: held orders, the earliest deadline first (backoffice.admin.approvals)."""

    class Meta:
        proxy = True
        ordering = ["created_at", "id"]
        verbose_name = "order awaiting approval"
        verbose_name_plural = "orders awaiting approval"  # the list's footer: "6 orders awaiting approval"


class Customer(User):
    """The admin's customer page (backoffice.admin.customers): an account seen through its orders,
    governed by the Order permissions, not by the proxy's own."""

    class Meta:
        proxy = True
        ordering = ["email"]
        verbose_name = "customer"
        verbose_name_plural = "customers"


class StaffNote(models.Model):
    """An internal note staff write on an order or on a customer, for colleagues.

    Exactly one of `order` and `customer` is set. Notes are for staff only: shown on the
    admin's order and customer pages, never on the customer's pages, in their API answers,
    notifications or e-mails. Written by orders.services.notes.staff_note_add.
    """

    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.CASCADE, related_name="staff_notes")
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="staff_notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept when the author's account is deleted (the foreign key is then emptied).
    author_email = models.EmailField(blank=True)
    text = models.TextField(max_length=2000)
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(order__isnull=False, customer__isnull=True)
                | models.Q(order__isnull=True, customer__isnull=False),
                name="staffnote_on_order_or_customer",
            ),
        ]
        indexes = [models.Index(fields=["order", "created_at"], name="staffnote_order_created"),
                   models.Index(fields=["customer", "created_at"], name="staffnote_customer_created")]

    def __str__(self) -> str:
        about = self.order.number if self.order_id else str(self.customer)
        return f"Note on {about} by {self.author_email or 'staff'}"
