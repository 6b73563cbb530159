"""The simulated providers' ledger in the admin (read-only: the providers write it)."""
import json

from django.contrib import admin
from django.utils.html import format_html

from backoffice.admin.base import OrderNumberSearchMixin, ReadOnlyModelAdmin, order_link
from providers.models import GatewayCall


@admin.register(GatewayCall)
class GatewayCallAdmin(OrderNumberSearchMixin, ReadOnlyModelAdmin):
    """The simulated providers' ledger: every call they answered, by idempotency key."""

    list_display = ("created_at", "gateway", "operation", "idempotency_key", "order_number", "outcome", "final",
                    "latency_ms")
    list_filter = ("gateway", "operation", "outcome", "final", "created_at")
    search_fields = ("idempotency_key",)
    search_help_text = "Idempotency key or order number."
    date_hierarchy = "created_at"
    fields = ("created_at", "gateway", "operation", "idempotency_key", "order_number", "outcome", "final",
              "latency_ms", "result_json")
    readonly_fields = fields

    @admin.display(description="order", ordering="order_id")
    def order_number(self, call: GatewayCall) -> str:
        return order_link(call.order_id)

    @admin.display(description="result")
    def result_json(self, call: GatewayCall) -> str:
        return format_html("<pre>{}</pre>", json.dumps(call.result, indent=2, sort_keys=True, default=str))
