"""Everything under /api: auth, products, orders, the OpenAPI schema and its docs."""
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("auth/", include("accounts.api.urls")),
    path("", include("catalog.api.urls")),
    path("", include("orders.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
