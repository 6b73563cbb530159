"""Catalog pages, mounted at the site root."""
from django.urls import path

from catalog import views

app_name = "catalog"
urlpatterns = [
    path("", views.product_list, name="product_list"),
    path("products/<str:public_id>/", views.product_detail, name="product_detail"),
]
