"""Included at /api/: the orders endpoints, without trailing slashes as in the seed's API."""
from django.urls import path

from orders.api import views, webhooks

urlpatterns = [
    path("orders", views.OrderListCreateApi.as_view(), name="api-orders"),
    path("orders/<int:order_id>", views.OrderDetailApi.as_view(), name="api-order-detail"),
    path("orders/<int:order_id>/cancel", views.OrderCancelApi.as_view(), name="api-order-cancel"),
    path("orders/<int:order_id>/approve", views.OrderApproveApi.as_view(), name="api-order-approve"),
    path("orders/<int:order_id>/reject", views.OrderRejectApi.as_view(), name="api-order-reject"),
    path("orders/<int:order_id>/retry", views.OrderRetryApi.as_view(), name="api-order-retry"),
    path("orders/<int:order_id>/redrive", views.OrderRedriveApi.as_view(), name="api-order-redrive"),
    path("orders/<int:order_id>/payment-link", views.OrderPaymentLinkApi.as_view(), name="api-order-payment-link"),
    path("orders/<int:order_id>/reconcile", views.OrderReconcileApi.as_view(), name="api-order-reconcile"),
    path("orders/<int:order_id>/refund", views.OrderRefundApi.as_view(), name="api-order-refund"),
    path("orders/<int:order_id>/notes", views.OrderNotesApi.as_view(), name="api-order-notes"),
    path("payments/webhook", webhooks.PaymentWebhookApi.as_view(), name="api-payments-webhook"),
]
