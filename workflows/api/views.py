"""/api/orders/{id}/trace: an order's full trace, for staff (workflows.trace)."""
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from store import permissions
from store.permissions import StaffPermission
from workflows.api.serializers import OrderTraceOutput
from workflows.trace import order_trace


class OrderTraceApi(APIView):
    """Everything that happened to the order, oldest first, in words: transitions, every provider
    call as the store saw it, callbacks, refunds and compensations, notifications, staff's notes
    and actions, each with the request id that caused it. Staff with orders.view_order only: the
    customer's timeline is the order's own `timeline`."""

    permission_classes = [StaffPermission(permissions.ORDER_VIEW, doing="read orders' traces")]

    @extend_schema(operation_id="orders_trace", responses=OrderTraceOutput)
    def get(self, request: Request, order_id: int) -> Response:
        return Response(OrderTraceOutput(order_trace(order_id=order_id)).data)
