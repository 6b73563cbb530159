"""What the store's admin modules share: the site's branding and a read-only ModelAdmin.

The home page's summary is orders.admin_selectors.admin_dashboard, rendered by
templates/admin/index.html through the `admin_dashboard` tag (orders/templatetags).
"""
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.db.models import QuerySet
from django.http import HttpRequest

SITE_HEADER = "Workflow Store admin"
SITE_TITLE = "Workflow Store admin"
INDEX_TITLE = "Run the shop"


def admin_site_brand(site: AdminSite) -> None:
    """Name the (standard) admin site after the store; orders.admin calls it on import."""
    site.site_header = SITE_HEADER
    site.site_title = SITE_TITLE
    site.index_title = INDEX_TITLE


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """An admin for records the application writes (refunds, notifications, the gateways' ledger):
    staff look, nobody adds, edits or deletes through the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class OrderNumberSearchMixin:
    """Lets the admin's search box find a row by its order's number ("#000012" or "12")."""

    order_number_lookup = "order_id"

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        number = search_term.strip().lstrip("#")
        if number.isdigit():
            return queryset.filter(**{self.order_number_lookup: int(number)}), False
        return super().get_search_results(request, queryset, search_term)
