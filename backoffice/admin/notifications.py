"""Customer notifications in the admin (read-only: the order's events write them)."""
from django.contrib import admin

from backoffice.admin.base import OrderNumberSearchMixin, ReadOnlyModelAdmin, order_link
from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(OrderNumberSearchMixin, ReadOnlyModelAdmin):
    list_display = ("created_at", "title", "user", "order_number", "event_type", "read_at", "email_sent_at")
    list_select_related = ("user", "order")
    list_filter = ("event_type", ("read_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("title", "user__email")
    search_help_text = "Title, customer e-mail or order number."
    date_hierarchy = "created_at"
    fields = ("created_at", "user", "order_number", "event_type", "title", "body", "read_at")
    readonly_fields = fields

    @admin.display(description="order", ordering="order_id")
    def order_number(self, notification: Notification) -> str:
        return order_link(notification.order_id)
