"""/metrics: the web process's Prometheus metrics (store.metrics; bearer token when METRICS_TOKEN is set)."""
from django.urls import path

from store.metrics import metrics_view

urlpatterns = [path("metrics", metrics_view, name="prometheus-django-metrics")]
