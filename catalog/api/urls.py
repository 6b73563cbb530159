"""/api/products and /api/products/<id> (included at /api/; no trailing slashes, as in the seed's API)."""
from django.urls import path

from catalog.api import views

urlpatterns = [
    path("products", views.ProductListApi.as_view(), name="api-product-list"),
    path("products/<str:public_id>", views.ProductDetailApi.as_view(), name="api-product-detail"),
]
