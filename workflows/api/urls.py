"""Included at /api/: the workflow versions, the review rules, and each order's trace beside the order's own
endpoints."""
from django.urls import path

from workflows.api import trace, versions, views

urlpatterns = [
    path("workflow", versions.WorkflowCurrentApi.as_view(), name="api-workflow"),
    path("workflow/versions", versions.WorkflowVersionListApi.as_view(), name="api-workflow-versions"),
    path("workflow/versions/<int:version_id>", versions.WorkflowVersionDetailApi.as_view(),
         name="api-workflow-version"),
    path("workflow/versions/<int:version_id>/dry-run", versions.WorkflowVersionDryRunApi.as_view(),
         name="api-workflow-version-dry-run"),
    path("workflow/versions/<int:version_id>/publish", versions.WorkflowVersionPublishApi.as_view(),
         name="api-workflow-version-publish"),
    path("review-rules", views.ReviewRuleListApi.as_view(), name="api-review-rules"),
    path("review-rules/backtest", views.ReviewRuleBacktestApi.as_view(), name="api-review-rules-backtest"),
    path("review-rules/<int:rule_id>", views.ReviewRuleDetailApi.as_view(), name="api-review-rule-detail"),
    path("orders/<int:order_id>/trace", trace.OrderTraceApi.as_view(), name="api-order-trace"),
]
