"""Order API shapes: camelCase keys, money as numbers."""
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from orders.models import Order, OrderEvent, OrderLine, Refund
from orders.services import NOTE_MAX_LENGTH
from orders.states import meaning, person_transitions
from orders.validators import validate_card_number, validate_zip_code
from store import permissions
from store.api import fields
from store.numbers import AsciiDecimalField, AsciiIntegerField

# --- input ----------------------------------------------------------------------------

class OrderItemInput(serializers.Serializer):
    productId = fields.CharField(max_length=32)
    quantity = serializers.IntegerField(min_value=1, max_value=settings.STORE_MAX_LINE_QUANTITY)

    def to_internal_value(self, data):
        # "2" or 2.5 are not whole numbers: refuse anything but a JSON integer.
        if isinstance(data, dict) and "quantity" in data and (
            isinstance(data["quantity"], bool) or not isinstance(data["quantity"], int)
        ):
            raise serializers.ValidationError({"quantity": ["A whole number from 1 to 99 is required."]})
        return super().to_internal_value(data)


class ShippingInput(serializers.Serializer):
    address = fields.CharField(max_length=200)
    city = fields.CharField(max_length=100)
    state = fields.CharField(max_length=100)
    zip = fields.CharField(max_length=10, validators=[validate_zip_code])


class OrderShippingInput(ShippingInput):
    rate = fields.CharField(
        max_length=1000, required=False,
        help_text="The id of the shipping option the customer chose (POST /api/shipping/rates). Without one the "
        "order ships standard at the rate card's current price. One that no longer holds (address, cart or "
        "price changed, expired) places nothing (409 shipping_changed).",
    )


class ShippingRatesInput(serializers.Serializer):
    items = OrderItemInput(many=True, allow_empty=False, max_length=settings.STORE_MAX_ORDER_LINES)
    shipping = ShippingInput()


class PaymentInput(serializers.Serializer):
    card = fields.CharField(max_length=23, required=False, allow_blank=True, validators=[])

    def validate_card(self, value: str) -> str:
        if value:
            try:
                validate_card_number(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages) from exc
        return value


class OrderCreateInput(serializers.Serializer):
    items = OrderItemInput(many=True, allow_empty=False, max_length=settings.STORE_MAX_ORDER_LINES)
    shipping = OrderShippingInput()
    payment = PaymentInput(required=False)
    expectedTotal = AsciiDecimalField(
        max_digits=12, decimal_places=2, required=False, min_value=Decimal("0"),
        help_text="The total the client showed, shipping included; when the catalog's prices make another, "
        "nothing is placed (409 price_changed).",
    )


class RefundLineInput(serializers.Serializer):
    lineId = AsciiIntegerField(min_value=1, help_text="The line's id (the order's items[].lineId).")
    quantity = AsciiIntegerField(min_value=1, max_value=32767, help_text="Units of the line to refund.")


class RefundInput(serializers.Serializer):
    amount = AsciiDecimalField(
        max_digits=12, decimal_places=2, required=False, min_value=Decimal("0.01"),
        help_text="USD. Without lines: the amount to refund (default: all that is left). With lines: at most "
        "the lines' price, which is the default.",
    )
    reason = fields.CharField(max_length=200, help_text="Shown to the customer with the refund, on their order.")
    lines = RefundLineInput(many=True, required=False, allow_empty=False, max_length=50,
                            help_text="Units of the order's lines to refund; none: a refund of an amount only.")
    restock = serializers.BooleanField(required=False, default=False,
                                       help_text="Return the lines' units to stock (needs lines).")
    shipping = serializers.BooleanField(
        required=False, default=False,
        help_text="Also refund the order's shipping not refunded yet: added to the lines' price, or the whole "
        "refund without lines or amount (an amount given counts it). 400 when shipping was free or was "
        "refunded already. Without it, line refunds give back items only; a refund of all that is left "
        "gives back the shipping too.",
    )


class CustomerCancelInput(serializers.Serializer):
    reason = fields.CharField(max_length=200, required=False, allow_blank=True,
                                   help_text="The customer's own reason for cancelling their order.")


class StaffDecisionInput(serializers.Serializer):
    """What staff give when they reject or cancel a customer's order: a note for staff and,
    optionally, what the customer is told."""

    note = fields.CharField(
        max_length=1000, required=False, allow_blank=True,
        help_text="Internal: kept on the order's timeline for staff; never shown or sent to the customer.",
    )
    customerMessage = fields.CharField(
        max_length=200, required=False, allow_blank=True,
        help_text="Shown on the customer's order and e-mailed to them; without one they are told "
        '"Cancelled by the shop" (cancel) or "We could not accept this order" (reject).',
    )

    def validate(self, attrs: dict) -> dict:
        # Staff's words reach the customer only as a customerMessage: callers say which they mean.
        if "reason" in self.initial_data:
            raise serializers.ValidationError(
                {"reason": "Not taken from staff: give a note (staff only) and a customerMessage."}
            )
        return attrs


class StaffNoteInput(serializers.Serializer):
    text = fields.CharField(max_length=NOTE_MAX_LENGTH,
                                 help_text="For staff only: never shown, sent or e-mailed to the customer.")


# --- output ---------------------------------------------------------------------------

class OrderItemOutput(fields.ModelSerializer):
    lineId = serializers.IntegerField(source="pk", help_text="What a refund of this line names.")
    productId = fields.CharField(source="product_public_id")
    price = serializers.DecimalField(source="unit_price", max_digits=10, decimal_places=2)
    refundedQuantity = serializers.IntegerField(source="refunded_quantity", default=0,
                                                help_text="Units of this line refunded so far.")

    class Meta:
        model = OrderLine
        fields = ["lineId", "productId", "name", "price", "quantity", "refundedQuantity"]


class ShippingOutput(serializers.Serializer):
    address = fields.CharField(source="ship_address")
    city = fields.CharField(source="ship_city")
    state = fields.CharField(source="ship_state")
    zip = fields.CharField(source="ship_zip")


class PaymentOutput(serializers.Serializer):
    cardLast4 = fields.CharField(source="card_last4")
    transactionId = fields.CharField(source="transaction_id")
    retries = serializers.IntegerField(source="payment_retries")


class ShipmentOutput(serializers.Serializer):
    trackingNumber = fields.CharField(source="tracking_number")
    carrier = fields.CharField()
    estimatedDelivery = serializers.DateField(source="estimated_delivery", allow_null=True)
    retries = serializers.IntegerField(source="shipping_retries")


class RefundLineOutput(serializers.Serializer):
    lineId = serializers.IntegerField(source="line_id")
    productId = fields.CharField(source="line.product_public_id")
    quantity = serializers.IntegerField()
    restocked = serializers.BooleanField()


class RefundOutput(fields.ModelSerializer):
    reference = fields.CharField(source="gateway_reference")
    createdAt = serializers.DateTimeField(source="created_at")
    shippingAmount = serializers.DecimalField(source="shipping_amount", max_digits=10, decimal_places=2,
                                              help_text="USD: the part of `amount` that gave back shipping.")
    lines = RefundLineOutput(many=True, help_text="The units refunded; empty for a refund of an amount only.")

    class Meta:
        model = Refund
        fields = ["id", "amount", "shippingAmount", "reason", "lines", "reference", "createdAt"]


def _sees_as_staff(user) -> bool:
    """Whether `user` reads an order as staff do: who acted, staff's notes, the rows only staff read."""
    return permissions.can(user, permissions.ORDER_VIEW)


def _for_staff(context: dict) -> bool:
    request = context.get("request")
    return request is not None and _sees_as_staff(request.user)


def _event_actor(event: OrderEvent, *, for_staff: bool) -> str:
    if for_staff:
        return event.actor_label
    return event.get_actor_kind_display()  # a customer is not told which staff member acted


def _event_detail(event: OrderEvent, *, for_staff: bool) -> dict:
    return event.detail if for_staff else event.customer_detail


def order_actions(order: Order, user) -> list[str]:
    """What `user` may do to the order now (the detail's `actions`)."""
    return sorted({meaning(edge.name).action for edge in person_transitions(order, user)})


class TimelineOutput(serializers.ListSerializer):
    """The order's events; a customer is not shown the rows only staff have something to read in
    (OrderEvent.staff_only: a staff member dismissing the ended order)."""

    def to_representation(self, data):
        events = data.all() if hasattr(data, "all") else data
        if not _for_staff(self.context):
            events = [event for event in events if not event.staff_only]
        return super().to_representation(events)


class TimelineEntryOutput(fields.ModelSerializer):
    event = fields.CharField(source="event_type")
    fromState = fields.CharField(source="source_state")
    toState = fields.CharField(source="target_state")
    actor = serializers.SerializerMethodField(help_text='"Customer", "Staff" or "System"; staff who may see '
                                              "other customers' orders also see who (an e-mail).")
    detail = serializers.SerializerMethodField(help_text="What the event carries; staff who may see other "
                                               "customers' orders also see staff's internal note.")
    at = serializers.DateTimeField(source="created_at")

    def get_actor(self, event: OrderEvent) -> str:
        return _event_actor(event, for_staff=_for_staff(self.context))

    def get_detail(self, event: OrderEvent) -> dict:
        return _event_detail(event, for_staff=_for_staff(self.context))

    class Meta:
        model = OrderEvent
        fields = ["event", "transition", "fromState", "toState", "actor", "detail", "at"]
        list_serializer_class = TimelineOutput


class ShippingOptionOutput(serializers.Serializer):
    id = fields.CharField(help_text="The signed quote to send as the order's shipping.rate; \"\" when not available.")
    service = fields.CharField(help_text='"standard" or "express".')
    label = fields.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2,
                                     help_text="USD the customer pays for it (0 when free over the threshold).")
    listPrice = serializers.DecimalField(source="list_price", max_digits=10, decimal_places=2,
                                         help_text="USD, the carrier's price before the free-shipping threshold.")
    earliest = serializers.DateField(help_text="Delivery window: first day (business days from today).")
    latest = serializers.DateField(help_text="Delivery window: last day.")
    available = serializers.BooleanField()
    note = fields.CharField(help_text='For the customer, e.g. "Free on orders over $100.00"; "" if nothing.')


class ShippingOptionsOutput(serializers.Serializer):
    options = ShippingOptionOutput(many=True, help_text="Standard first.")
    degraded = serializers.BooleanField(help_text="The carrier could not quote: standard is priced from the "
                                        "rate card, express is unavailable.")
    message = fields.CharField(help_text='A sentence for the customer; "" normally.')


class OrderOutput(fields.ModelSerializer):
    items = OrderItemOutput(source="lines", many=True)
    shipping = ShippingOutput(source="*")
    payment = PaymentOutput(source="*")
    shipment = ShipmentOutput(source="*")
    shippingService = fields.CharField(source="shipping_service", help_text='"standard" or "express".')
    shippingCost = serializers.DecimalField(source="shipping_cost", max_digits=10, decimal_places=2,
                                            help_text="USD; total = subtotal + shippingCost.")
    deliveryEarliest = serializers.DateField(source="delivery_earliest", allow_null=True,
                                             help_text="The delivery window promised at checkout: first day.")
    deliveryLatest = serializers.DateField(source="delivery_latest", allow_null=True,
                                           help_text="The delivery window promised at checkout: last day.")
    refundedAmount = serializers.DecimalField(source="refunded_amount", max_digits=12, decimal_places=2)
    refunds = RefundOutput(many=True)
    failureReason = fields.CharField(source="failure_reason")
    workflowVersion = serializers.IntegerField(source="workflow_version", help_text="The workflow version the "
                                               "order runs on (the current one when it was placed).")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = Order
        fields = ["id", "number", "state", "items", "subtotal", "shippingService", "shippingCost", "total",
                  "deliveryEarliest", "deliveryLatest", "shipping", "payment", "shipment", "refundedAmount",
                  "refunds", "failureReason", "workflowVersion", "createdAt", "updatedAt"]


class OrderDetailOutput(OrderOutput):
    timeline = TimelineEntryOutput(source="events", many=True)
    actions = serializers.SerializerMethodField(
        help_text="What the caller may do to the order now, each a POST to /api/orders/{id}/<action>: "
        "approve, cancel, refund, reject, retry."
    )

    def get_actions(self, order: Order) -> list[str]:
        request = self.context.get("request")
        if request is None:
            return []
        return order_actions(order, request.user)

    class Meta(OrderOutput.Meta):
        fields = [*OrderOutput.Meta.fields, "timeline", "actions"]


class StaffNoteOutput(serializers.Serializer):
    """A staff-only note on an order: written on its own (`source` "note") or given with a
    reject or cancel (`source` the transition's name)."""

    text = fields.CharField()
    author = fields.CharField(help_text="The author's e-mail.")
    source = fields.CharField()
    createdAt = serializers.DateTimeField(source="at")


# --- the order's detail, without building its serializer ---------------------------------
# OrderDetailOutput declares the shape (and the schema); a GET of one order is the API's most
# frequent read, and building that serializer's nested fields for every request costs more than
# the rows it shows. order_detail_data answers the same JSON, field for field (the tests compare
# the two), with DRF's own fields doing each value's formatting.

_DATETIME = serializers.DateTimeField()
_DATE = serializers.DateField()
_MONEY = serializers.DecimalField(max_digits=12, decimal_places=2)
_PRICE = serializers.DecimalField(max_digits=10, decimal_places=2)


def _datetime(value):
    return None if value is None else _DATETIME.to_representation(value)


def _date(value):
    return None if value is None else _DATE.to_representation(value)


def _refund_data(refund: Refund) -> dict:
    return {
        "id": refund.pk,
        "amount": _MONEY.to_representation(refund.amount),
        "shippingAmount": _PRICE.to_representation(refund.shipping_amount),
        "reason": str(refund.reason),
        "lines": [{"lineId": part.line_id, "productId": str(part.line.product_public_id),
                   "quantity": int(part.quantity), "restocked": bool(part.restocked)} for part in refund.lines.all()],
        "reference": str(refund.gateway_reference),
        "createdAt": _datetime(refund.created_at),
    }


def _event_data(event: OrderEvent, *, for_staff: bool) -> dict:
    return {
        "event": str(event.event_type),
        "transition": str(event.transition),
        "fromState": str(event.source_state),
        "toState": str(event.target_state),
        "actor": _event_actor(event, for_staff=for_staff),
        "detail": _event_detail(event, for_staff=for_staff),
        "at": _datetime(event.created_at),
    }


def order_detail_data(order: Order, *, user) -> dict:
    """`OrderDetailOutput(order, context={"request": <a request of user>}).data` of an order read
    by orders.selectors.order_get: its items, refunds and timeline as `user` may see them."""
    for_staff = _sees_as_staff(user)
    events = order.events.all()
    if not for_staff:
        events = [event for event in events if not event.staff_only]
    return {
        "id": order.pk,
        "number": order.number,
        "state": str(order.state),
        "items": [{"lineId": line.pk, "productId": str(line.product_public_id), "name": str(line.name),
                   "price": _PRICE.to_representation(line.unit_price), "quantity": int(line.quantity),
                   "refundedQuantity": int(getattr(line, "refunded_quantity", 0))} for line in order.lines.all()],
        "subtotal": _MONEY.to_representation(order.subtotal),
        "shippingService": str(order.shipping_service),
        "shippingCost": _PRICE.to_representation(order.shipping_cost),
        "total": _MONEY.to_representation(order.total),
        "deliveryEarliest": _date(order.delivery_earliest),
        "deliveryLatest": _date(order.delivery_latest),
        "shipping": {"address": str(order.ship_address), "city": str(order.ship_city),
                     "state": str(order.ship_state), "zip": str(order.ship_zip)},
        "payment": {"cardLast4": str(order.card_last4), "transactionId": str(order.transaction_id),
                    "retries": int(order.payment_retries)},
        "shipment": {"trackingNumber": str(order.tracking_number), "carrier": str(order.carrier),
                     "estimatedDelivery": _date(order.estimated_delivery), "retries": int(order.shipping_retries)},
        "refundedAmount": _MONEY.to_representation(order.refunded_amount),
        "refunds": [_refund_data(refund) for refund in order.refunds.all()],
        "failureReason": str(order.failure_reason),
        "workflowVersion": int(order.workflow_version),
        "createdAt": _datetime(order.created_at),
        "updatedAt": _datetime(order.updated_at),
        "timeline": [_event_data(event, for_staff=for_staff) for event in events],
        "actions": order_actions(order, user),
    }
