"""Everything under /api: auth, addresses, products, orders and their traces, review rules, webhooks, the OpenAPI schema
and its docs."""
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from store.api.schema import SchemaView

urlpatterns = [
    path("auth/", include("accounts.api.urls")),
    path("", include("accounts.api.address_urls")),
    path("", include("catalog.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("workflows.api.urls")),
    path("", include("webhooks.api.urls")),
    path("schema/", SchemaView.as_view(), name="api-schema"),
    # The "split" view serves Swagger UI's start-up script as a file, as the Content-Security-Policy asks.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
