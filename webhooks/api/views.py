"""/api/webhooks: staff register endpoints, rotate their secrets, read the delivery log and
replay deliveries. Every request needs WEBHOOK_MANAGE (store.permissions), as the admin does;
an endpoint is checked as the admin's form checks it (the model's validators)."""
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from store import permissions
from store.permissions import StaffPermission
from webhooks import selectors, services
from webhooks.api.serializers import (
    DeliverySerializer,
    EndpointSerializer,
    EndpointWithSecretSerializer,
    ReplayInput,
    ReplayOutput,
)
from webhooks.models import WebhookDelivery, WebhookEndpoint

INVALID = OpenApiResponse(description='Validation error: {"error", "code": "invalid", "fields"}')
FORBIDDEN = OpenApiResponse(description='401 without a token, 403 {"code": "permission_denied"} without '
                                        'webhooks.change_webhookendpoint')
TAGS = ["webhooks"]


class WebhookApi(APIView):
    permission_classes = [StaffPermission(permissions.WEBHOOK_MANAGE)]


class EndpointListApi(WebhookApi):
    @extend_schema(tags=TAGS, summary="Webhook endpoints", responses={200: EndpointSerializer(many=True),
                                                                      401: FORBIDDEN, 403: FORBIDDEN})
    def get(self, request: Request) -> Response:
        return Response(EndpointSerializer(selectors.endpoint_list(), many=True).data)

    @extend_schema(tags=TAGS, summary="Register a webhook endpoint (its secret is in this answer only)",
                   request=EndpointSerializer,
                   responses={201: EndpointWithSecretSerializer, 400: INVALID, 401: FORBIDDEN, 403: FORBIDDEN})
    def post(self, request: Request) -> Response:
        data = EndpointSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(actor=request.user, **data.validated_data)
        return Response(EndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetailApi(WebhookApi):
    @extend_schema(tags=TAGS, summary="A webhook endpoint",
                   responses={200: EndpointSerializer, 401: FORBIDDEN, 403: FORBIDDEN})
    def get(self, request: Request, endpoint_id: int) -> Response:
        return Response(EndpointSerializer(get_object_or_404(WebhookEndpoint, pk=endpoint_id)).data)

    @extend_schema(tags=TAGS, summary="Change a webhook endpoint (enabling it sends its backlog, in order)",
                   request=EndpointSerializer,
                   responses={200: EndpointSerializer, 400: INVALID, 401: FORBIDDEN, 403: FORBIDDEN})
    def patch(self, request: Request, endpoint_id: int) -> Response:
        endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
        data = EndpointSerializer(endpoint, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint=endpoint, actor=request.user, **data.validated_data)
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(tags=TAGS, summary="Delete a webhook endpoint with its deliveries",
                   responses={204: None, 401: FORBIDDEN, 403: FORBIDDEN})
    def delete(self, request: Request, endpoint_id: int) -> Response:
        services.endpoint_delete(endpoint=get_object_or_404(WebhookEndpoint, pk=endpoint_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateApi(WebhookApi):
    @extend_schema(tags=TAGS, summary="A new secret for the endpoint (in this answer only)", request=None,
                   responses={200: EndpointWithSecretSerializer, 401: FORBIDDEN, 403: FORBIDDEN})
    def post(self, request: Request, endpoint_id: int) -> Response:
        endpoint = services.endpoint_secret_rotate(endpoint=get_object_or_404(WebhookEndpoint, pk=endpoint_id),
                                                   actor=request.user)
        return Response(EndpointWithSecretSerializer(endpoint).data)


class DeliveryLogApi(WebhookApi):
    @extend_schema(tags=TAGS, summary="The endpoint's latest 100 deliveries with their attempts",
                   responses={200: DeliverySerializer(many=True), 401: FORBIDDEN, 403: FORBIDDEN})
    def get(self, request: Request, endpoint_id: int) -> Response:
        endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
        return Response(DeliverySerializer(selectors.delivery_log(endpoint=endpoint), many=True).data)


class EndpointReplayApi(WebhookApi):
    @extend_schema(tags=TAGS, summary="Send again the endpoint's deliveries of events in [since, until)",
                   request=ReplayInput, responses={200: ReplayOutput, 400: INVALID, 401: FORBIDDEN, 403: FORBIDDEN})
    def post(self, request: Request, endpoint_id: int) -> Response:
        endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
        data = ReplayInput(data=request.data)
        data.is_valid(raise_exception=True)
        count = services.deliveries_replay(endpoint=endpoint, actor=request.user, **data.validated_data)
        return Response(ReplayOutput({"replayed": count}).data)


class DeliveryReplayApi(WebhookApi):
    @extend_schema(tags=TAGS, summary="Send one delivery again (same body, same webhook-id)", request=None,
                   responses={200: ReplayOutput, 401: FORBIDDEN, 403: FORBIDDEN})
    def post(self, request: Request, delivery_id: int) -> Response:
        count = services.delivery_replay(delivery=get_object_or_404(WebhookDelivery, pk=delivery_id),
                                         actor=request.user)
        return Response(ReplayOutput({"replayed": count}).data)
