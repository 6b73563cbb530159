"""Read-only parts of the order page: its lines, timeline, refunds, payment webhook events and the
customer's notifications."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from backoffice.admin.base import money_field
from notifications.models import Notification
from notifications.services import EMAIL_ATTEMPTS
from orders.models import Order, OrderEvent, OrderLine, PaymentWebhookEvent, Refund
from orders.selectors import lines_with_refunds
from store import permissions
from store.money import money
from workflows.trace import callback_text, event_text

# --- Read-only parts of the order page ------------------------------------------------------


class OrderPartInline(admin.TabularInline):
    """A read-only table on the order page; whoever may see the order sees its parts."""

    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return permissions.can(request.user, permissions.ORDER_VIEW)


class OrderLineInline(OrderPartInline):
    model = OrderLine
    verbose_name_plural = "lines"
    fields = readonly_fields = ("product_public_id", "name", "unit_price_money", "quantity", "line_total", "refunded")

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderLine]:
        return lines_with_refunds(super().get_queryset(request))

    @admin.display(description="refunded units")
    def refunded(self, line: OrderLine) -> int:
        return line.refunded_quantity

    unit_price_money = money_field("unit_price", "unit price")

    @admin.display(description="line total")
    def line_total(self, line: OrderLine) -> str:
        return money(line.line_total)


class OrderEventInline(OrderPartInline):
    """The order's events in words (workflows.trace.event_text, as on its Trace page): four columns
    that fit the page, no raw keys."""

    model = OrderEvent
    verbose_name = "event"
    verbose_name_plural = "timeline"
    fields = readonly_fields = ("when", "what", "actor_display", "request_id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderEvent]:
        return super().get_queryset(request).select_related("actor", "order")  # str(event) names the order

    @admin.display(description="when")
    def when(self, event: OrderEvent) -> str:
        return f"{timezone.localtime(event.created_at):%Y-%m-%d %H:%M:%S}"  # seconds: steps follow each other fast

    @admin.display(description="what happened")
    def what(self, event: OrderEvent) -> str:
        return event_text(event)

    @admin.display(description="by")
    def actor_display(self, event: OrderEvent) -> str:
        return event.actor_label


class RefundInline(OrderPartInline):
    model = Refund
    fields = readonly_fields = ("created_at", "amount_money", "shipping_money", "items", "reason", "created_by",
                                "gateway_reference")
    amount_money = money_field("amount", "amount")
    shipping_money = money_field("shipping_amount", "of it shipping")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Refund]:
        # str(refund) names the order
        return super().get_queryset(request).select_related("created_by", "order").prefetch_related("lines__line")

    @admin.display(description="items")
    def items(self, refund: Refund) -> str:
        parts = [f"{part}{' (back to stock)' if part.restocked else ''}" for part in refund.lines.all()]
        return ", ".join(parts) or "— (amount only)"


class PaymentWebhookEventInline(OrderPartInline):
    """What the payment provider's webhook said about the order, applied, ignored or refused, in words
    (workflows.trace.callback_text: the event, its charge, why, where an unwanted charge's refund stands)."""

    model = PaymentWebhookEvent
    verbose_name = "payment webhook event"
    fields = readonly_fields = ("received_at", "what", "refund_reference", "request_id")

    @admin.display(description="what the provider said")
    def what(self, event: PaymentWebhookEvent) -> str:
        return callback_text(event)


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


def state_badge(order: Order) -> str:
    return format_html('<span class="state-badge state-badge--{}">{}</span>', order.state, order.get_state_display())
