"""Customer notifications in the admin (read-only: the order's events write them)."""
from django.contrib import admin

from notifications.models import Notification
from notifications.services import EMAIL_ATTEMPTS
from orders.admin import OrderAdmin, OrderPartInline
from store.admin import OrderNumberSearchMixin, ReadOnlyModelAdmin, order_link


class NotificationInline(OrderPartInline):
    model = Notification
    verbose_name_plural = "notifications sent to the customer"
    fields = readonly_fields = ("created_at", "event_type", "title", "read_at", "email")

    @admin.display(description="e-mail")
    def email(self, notification: Notification) -> str:
        """Whether the e-mail went out: staff who sent a payment link or refunded see it arrive,
        or that the mail server kept refusing it (the customer still has it on the shop)."""
        if notification.email_sent_at:
            return f"sent {notification.email_sent_at:%Y-%m-%d %H:%M} UTC"
        if notification.email_attempts >= EMAIL_ATTEMPTS:
            return f"not sent: the mail server refused it {notification.email_attempts} times (on the shop only)"
        tries = f" (tried {notification.email_attempts}×, tried again every minute)" if notification.email_attempts else ""
        return f"not sent yet{tries}"


OrderAdmin.extra_inlines.append(NotificationInline)


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
