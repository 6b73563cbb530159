"""The approval queue: orders a review rule held, oldest first, with approve and reject on every row."""
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from backoffice.admin.actions import ORDER_ACTIONS
from backoffice.admin.orders import OrderAdmin
from backoffice.selectors.dashboard import order_approval_queue
from orders.models import Order, OrderAwaitingApproval
from store import permissions


@admin.register(OrderAwaitingApproval)
class ApprovalQueueAdmin(OrderAdmin):
    """Orders a review rule held, oldest first, with approve and reject on every row.

    Governed by the Order permissions (view to see the queue, approve to act; OrderAdmin's
    checks), not by the proxy model's own.
    """

    list_display = ("order_link", "customer", "total", "item_count", "held_by", "created_at", "waiting", "buttons")
    list_display_links = None
    list_filter = ()
    date_hierarchy = None
    actions = ("approve_selected", "reject_selected")
    ordering = ("created_at", "id")
    change_list_template = "admin/change_list.html"  # not the order list's (its export and report links)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return order_approval_queue(super().get_queryset(request))

    def get_urls(self):
        return admin.ModelAdmin.get_urls(self)  # the buttons post to the order admin's URLs

    @admin.display(description="order", ordering="id")
    def order_link(self, order: Order) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[order.pk]), order.number)

    @admin.display(description="items", ordering="item_count")
    def item_count(self, order: Order) -> int:
        return order.item_count or 0

    @admin.display(description="held by rule")
    def held_by(self, order: Order) -> str:
        return order.held_by or "—"

    @admin.display(description="waiting")
    def waiting(self, order: Order) -> str:
        return timesince(order.created_at)

    def buttons(self, order: Order, user) -> str:
        """Approve and reject, where `user` may (never on their own order), post the changelist's own
        form (it carries the CSRF token) to the order URLs; reject answers with its confirmation page."""
        back = reverse("admin:orders_orderawaitingapproval_changelist")
        return format_html_join(
            " ",
            '<button type="submit" class="button{}" formaction="{}?next={}" aria-label="{} order {}">{}</button>',
            (
                (" button--danger" if action.dangerous else "",
                 reverse("admin:orders_order_action", args=[order.pk, action.name]), back,
                 action.label, order.number, action.label)
                for action in (ORDER_ACTIONS["approve"], ORDER_ACTIONS["reject"]) if action.offered_to(user, order)
            ),
        ) or "your own order: a colleague decides"

    def changelist_view(self, request: HttpRequest, extra_context=None):
        title = "Approval queue: orders held by a review rule, oldest first"
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def get_list_display(self, request: HttpRequest):
        others = tuple(name for name in self.list_display if name != "buttons")
        if not permissions.can(request.user, permissions.ORDER_APPROVE):
            return others

        @admin.display(description="decide")
        def buttons(order: Order) -> str:
            return self.buttons(order, request.user)

        return (*others, buttons)
