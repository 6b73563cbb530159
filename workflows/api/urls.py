"""Included at /api/: the review rules, and each order's trace beside the order's own endpoints."""
from django.urls import path

from workflows.api import trace, views

urlpatterns = [
    path("review-rules", views.ReviewRuleListApi.as_view(), name="api-review-rules"),
    path("review-rules/backtest", views.ReviewRuleBacktestApi.as_view(), name="api-review-rules-backtest"),
    path("review-rules/<int:rule_id>", views.ReviewRuleDetailApi.as_view(), name="api-review-rule-detail"),
    path("orders/<int:order_id>/trace", trace.OrderTraceApi.as_view(), name="api-order-trace"),
]
