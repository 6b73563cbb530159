"""Included at /api/: the orders endpoints, without trailing slashes as in the seed's API."""
from django.urls import path

from orders.api import views, webhooks

urlpatterns = [
    path("orders", views.OrderListCreateApi.as_view(), name="api-orders"),
    path("orders/<int:order_id>", views.OrderDetailApi.as_view(), name="api-order-detail"),
    # People's actions on an order, one per action its transitions declare (refund's view among them).
    *(path(f"orders/<int:order_id>/{action}", view.as_view(), name=f"api-order-{action}")
      for action, view in views.ACTION_VIEWS.items()),
    path("orders/<int:order_id>/payment-link", views.OrderPaymentLinkApi.as_view(), name="api-order-payment-link"),
    path("orders/<int:order_id>/reconcile", views.OrderReconcileApi.as_view(), name="api-order-reconcile"),
    path("orders/<int:order_id>/notes", views.OrderNotesApi.as_view(), name="api-order-notes"),
    path("payments/webhook", webhooks.PaymentWebhookApi.as_view(), name="api-payments-webhook"),
    path("shipping/rates", views.ShippingRatesApi.as_view(), name="api-shipping-rates"),
    path("shipping/webhook", webhooks.ShippingWebhookApi.as_view(), name="api-shipping-webhook"),
]
