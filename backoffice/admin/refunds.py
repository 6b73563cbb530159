"""Every refund, read-only: refunds are made on the order page."""
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from backoffice.admin.base import OrderNumberSearchMixin, ReadOnlyModelAdmin, money_field
from orders.models import Refund


@admin.register(Refund)
class RefundAdmin(OrderNumberSearchMixin, ReadOnlyModelAdmin):
    """Every refund, read-only: refunds are made on the order page."""

    list_display = ("created_at", "order_link", "amount_money", "reason", "created_by", "gateway_reference")
    list_select_related = ("order", "created_by")
    list_filter = ("created_at",)
    search_fields = ("reason", "gateway_reference", "order__owner__email")
    date_hierarchy = "created_at"
    readonly_fields = ("order_link", "amount_money", "reason", "created_by", "gateway_reference", "created_at")
    fields = readonly_fields
    amount_money = money_field("amount", "amount")

    @admin.display(description="order", ordering="order_id")
    def order_link(self, refund: Refund) -> str:
        url = reverse("admin:orders_order_change", args=[refund.order_id])
        return format_html('<a href="{}">{}</a>', url, refund.order.number)
