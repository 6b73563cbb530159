"""The providers' signed events: /api/payments/webhook (orders.services.payment_webhook) and
/api/shipping/webhook, the carrier's tracking updates (orders.services.tracking)."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.services import payment_webhook_receive
from orders.services.tracking import tracking_webhook_receive
from providers.webhooks import SIGNATURE_HEADER
from store.errors import DomainError

_SIGNATURE = OpenApiParameter(SIGNATURE_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                              description="t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.\" + body)>")


class SignedWebhookApi(APIView):
    """A provider's callback. No session or JWT: the provider proves itself with the body's
    signature (so no CSRF either); `receive(body=, signature=)` verifies and applies it."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    # Not the per-address API limits: a provider sends from few addresses, and an event it is
    # refused (429) may not come again before the payment's deadline. The signature is checked
    # before anything is read or written.
    throttle_classes: list = []
    receive = None  # set by each provider's view

    def answer(self, request: Request) -> Response:
        try:
            answer = type(self).receive(body=request.body, signature=request.headers.get(SIGNATURE_HEADER))
        except DomainError:
            # The service logged why; django.request need not log the response again.
            request._request.refusal_logged = True
            raise
        return Response(answer.as_dict())


class PaymentWebhookApi(SignedWebhookApi):
    """The payment provider settles a pending charge."""

    receive = staticmethod(payment_webhook_receive)

    @extend_schema(
        operation_id="payments_webhook",
        summary="The payment provider confirms or declines a pending charge",
        description='Body: {"id": "evt_…", "type": "payment.approved" | "payment.declined", "created": <unix s>, '
        '"data": {"order_id", "key", "reference", "reason"}}. 200 {"status": "processed" | "duplicate" | '
        '"ignored", "detail", "order", "state"}; 400 for a missing, wrong or stale signature or a malformed '
        "body; 404 for an unknown order.",
        parameters=[_SIGNATURE],
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        return self.answer(request)


class ShippingWebhookApi(SignedWebhookApi):
    """The carrier's tracking updates, signed with its own secret."""

    receive = staticmethod(tracking_webhook_receive)

    @extend_schema(
        operation_id="shipping_webhook",
        summary="The carrier tells how a shipped order's parcel goes",
        description='Body: {"id": "trk_…", "type": "tracking.updated", "created": <unix s>, "data": {"order_id", '
        '"tracking_number", "status": "in_transit" | "out_for_delivery" | "delivered" | "exception" | '
        '"returned_to_sender", "occurred_at": <unix s>, "description", "location"}}. 200 {"status": "processed" | '
        '"duplicate" | "ignored", "detail", "order", "state"}; 400 for a missing, wrong or stale signature or a '
        "malformed body; 404 for an unknown order.",
        parameters=[_SIGNATURE],
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        return self.answer(request)
