"""/api/addresses… (mounted by store.api.urls; no trailing slashes, as the API contract fixes them)."""
from django.urls import path

from accounts.api import addresses

urlpatterns = [
    path("addresses", addresses.AddressListApi.as_view(), name="api-addresses"),
    path("addresses/<int:address_id>", addresses.AddressDetailApi.as_view(), name="api-address-detail"),
]
