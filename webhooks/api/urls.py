"""Included at /api/: webhook endpoints, their delivery log and replays."""
from django.urls import path

from webhooks.api import views

urlpatterns = [
    path("webhooks", views.EndpointListApi.as_view(), name="api-webhooks"),
    path("webhooks/<int:endpoint_id>", views.EndpointDetailApi.as_view(), name="api-webhook-detail"),
    path("webhooks/<int:endpoint_id>/rotate-secret", views.EndpointRotateApi.as_view(), name="api-webhook-rotate"),
    path("webhooks/<int:endpoint_id>/deliveries", views.DeliveryLogApi.as_view(), name="api-webhook-deliveries"),
    path("webhooks/<int:endpoint_id>/replay", views.EndpointReplayApi.as_view(), name="api-webhook-replay"),
    path("webhooks/deliveries/<int:delivery_id>/replay", views.DeliveryReplayApi.as_view(),
         name="api-webhook-delivery-replay"),
]
