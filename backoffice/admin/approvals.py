"""The approval queue: held orders, the earliest deadline first, with approve and reject on every row."""
from django.contrib import admin, messages
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince, timeuntil

from backoffice.admin.actions import ORDER_ACTIONS
from backoffice.admin.orders import OrderAdmin
from backoffice.selectors.dashboard import order_approval_queue
from orders.models import Order, OrderAwaitingApproval
from store import permissions
from store.errors import PermissionRefused
from store.money import money
from workflows.models import Hold
from workflows.review.holds import hold_assign


@admin.register(OrderAwaitingApproval)
class ApprovalQueueAdmin(OrderAdmin):
    """Held orders, the earliest deadline first, with why (rule and reason), who looks at it, the
    deadline and the age, and approve and reject on every row.

    Governed by the Order permissions (view to see the queue, approve to act; OrderAdmin's
    checks), not by the proxy model's own.
    """

    list_display = ("order_link", "customer", "amount", "item_count", "why", "assignee", "deadline", "waiting",
                    "buttons")
    list_display_links = None
    list_filter = ()
    date_hierarchy = None
    actions = ("approve_selected", "reject_selected", "assign_to_me", "unassign")
    def get_ordering(self, request: HttpRequest):
        return (F("hold__deadline").asc(nulls_last=True), "created_at", "id")
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

    @admin.display(description="total")
    def amount(self, order: Order) -> str:
        return money(order.total)

    @admin.display(description="why")
    def why(self, order: Order) -> str:
        hold = getattr(order, "hold", None)
        if hold is None:
            return "—"
        source = f"rule “{hold.rule_name}”" if hold.rule_name else "held by the pipeline"
        deciding = hold.evaluation.deciding if hold.evaluation_id else None
        because = f": {deciding['because']}" if deciding else ""
        if hold.rule_name == hold.reason:
            return f"{source}{because}"
        return format_html("{}<br><span class=\"help\">{}{}</span>", hold.reason, source, because)

    @admin.display(description="assigned to")
    def assignee(self, order: Order) -> str:
        hold = getattr(order, "hold", None)
        return (hold.assignee.email if hold and hold.assignee_id else "nobody") if hold else "—"

    @admin.display(description="deadline", ordering="hold__deadline")
    def deadline(self, order: Order) -> str:
        hold = getattr(order, "hold", None)
        if hold is None:
            return "—"
        when = date_format(timezone.localtime(hold.deadline), "DATETIME_FORMAT")
        if hold.overdue:
            return format_html('<strong>Overdue</strong> since {}', when)
        return format_html("{} (in {})", when, timeuntil(hold.deadline))

    @admin.display(description="waiting")
    def waiting(self, order: Order) -> str:
        hold = getattr(order, "hold", None)
        return timesince(hold.created_at if hold else order.created_at)

    def _assign(self, request: HttpRequest, queryset: QuerySet[Order], assignee) -> None:
        assigned = 0
        for order in queryset:
            try:
                hold_assign(order_id=order.pk, assignee=assignee, actor=request.user)
            except Hold.DoesNotExist:
                continue
            except PermissionRefused as exc:
                messages.error(request, str(exc))
                return
            assigned += 1
        who = "you" if assignee else "nobody"
        messages.success(request, f"{assigned} held order{'' if assigned == 1 else 's'} assigned to {who}.")

    @admin.action(description="Assign selected orders to me", permissions=["approve"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._assign(request, queryset, request.user)

    @admin.action(description="Unassign selected orders", permissions=["approve"])
    def unassign(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._assign(request, queryset, None)

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
        title = "Approval queue: held orders, the earliest deadline first"
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def get_list_display(self, request: HttpRequest):
        others = tuple(name for name in self.list_display if name != "buttons")
        if not permissions.can(request.user, permissions.ORDER_APPROVE):
            return others

        @admin.display(description="decide")
        def buttons(order: Order) -> str:
            return self.buttons(order, request.user)

        return (*others, buttons)
