"""Included at /api/: the review rules."""
from django.urls import path

from workflows.api import views

urlpatterns = [
    path("review-rules", views.ReviewRuleListApi.as_view(), name="api-review-rules"),
    path("review-rules/backtest", views.ReviewRuleBacktestApi.as_view(), name="api-review-rules-backtest"),
    path("review-rules/<int:rule_id>", views.ReviewRuleDetailApi.as_view(), name="api-review-rule-detail"),
]
