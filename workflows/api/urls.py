"""Included at /api/: the pipeline's reads of an order, beside the order's own endpoints."""
from django.urls import path

from workflows.api import views

urlpatterns = [
    path("orders/<int:order_id>/trace", views.OrderTraceApi.as_view(), name="api-order-trace"),
]
