"""/api/orders/{id}/trace: an order's full trace, for staff (workflows.trace), in camelCase like the
rest of the API."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from store import permissions
from store.api import fields
from store.permissions import StaffPermission
from workflows.trace import Kind, order_trace


class CallOutput(serializers.Serializer):
    provider = fields.CharField(help_text="The provider's role: address, inventory, risk, payment, shipping, "
                                "notification.")
    operation = fields.CharField(help_text="What was asked: check, score, charge, charge_status, refund, label, send.")
    step = fields.CharField(help_text='The pipeline step that made the call; "" for refunds, reconciliation, e-mail.')
    key = fields.CharField(help_text="The call's idempotency key.")
    attempt = serializers.IntegerField(help_text="Its number among the calls with this key.")
    outcome = fields.CharField(help_text="ok, declined, pending, timeout or error.")
    latencyMs = serializers.IntegerField(source="latency_ms", help_text="How long the store waited, in milliseconds.")


class TraceEntryOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=Kind.choices)
    text = fields.CharField(help_text="What happened, in words.")
    actor = fields.CharField(help_text='Who acted ("System", "Customer <e-mail>", "Staff <e-mail>", "Payment '
                             'provider"); "" for a provider call.')
    requestId = fields.CharField(source="request_id", help_text="The X-Request-ID of the request or task that "
                                 'caused it ("" when none was kept).')
    call = CallOutput(allow_null=True, help_text="A provider call's facts; null for every other kind.")


class OrderTraceOutput(serializers.Serializer):
    order = serializers.IntegerField(source="order.pk")
    number = fields.CharField(source="order.number")
    state = fields.CharField(source="order.state")
    entries = TraceEntryOutput(many=True)


class OrderTraceApi(APIView):
    """Everything that happened to the order, oldest first, in words: transitions, every provider
    call as the store saw it, callbacks, refunds and compensations, notifications, staff's notes
    and actions, each with the request id that caused it. Staff with orders.view_order only: the
    customer's timeline is the order's own `timeline`."""

    permission_classes = [StaffPermission(permissions.ORDER_VIEW, doing="read orders' traces")]

    @extend_schema(operation_id="orders_trace", responses=OrderTraceOutput)
    def get(self, request: Request, order_id: int) -> Response:
        return Response(OrderTraceOutput(order_trace(order_id=order_id)).data)

