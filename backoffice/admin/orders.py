"""Orders in the admin: the order list and the order page, their buttons and bulk actions.

The admin never writes an order itself. The order page is Django's read-only change form;
its buttons post to the URLs `OrderAdmin.get_urls` adds, which call orders.services with
the signed-in staff user as the actor and come back with a message. Reject and cancel (one
order or several) first show a confirmation page that asks for an internal note and a message
to the customer; a refund first shows what it will do (its amount, units, stock and the
customer's notice); only the post from that page acts. The page's heading says what the user
may do from the order's state, or which permission they lack (actions.order_options). Who may see and press
what is store.permissions' to say, as on the API and the storefront: orders.view_order to see
orders, approve_order to approve and reject, change_order to cancel and retry, refund_order
to refund (granted individually, not through the "Shop staff" group), add_staffnote to add an
internal note (backoffice.admin.customers has the customer page every order links its customer to).

The Delayed list is this changelist filtered to state `stalled` (linked from the admin home
page, which also shows the providers' circuits and closes one by hand: `circuit_close_view`);
"Re-drive selected orders" sends each back to the step it stalled in.

Each order's Trace page (`trace_view`, linked from the order page) lists everything that happened
to it (workflows.trace), for whoever may see orders.

Beside the list, for whoever may see orders: "Export CSV" (the orders the list's filters and
search show, `export_view`), the orders report (`report_view`: revenue,
refunds and orders per day and per state) and "Needs attention" (`attention_view`; an order that
ended after a failed payment or shipment stays there until staff dismiss it, `dismiss_view`). The
approval queue (backoffice.admin.approvals) is this admin on held orders; what each button
does is backoffice.admin.actions.
"""
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe

from backoffice.admin.actions import ORDER_ACTIONS, REDRIVE, OrderAction, order_options
from backoffice.admin.base import BoundedChangeListMixin, OrderNumberSearchMixin, money_field, plural
from backoffice.admin.customers import customer_link, note_added
from backoffice.admin.inlines import (
    NotificationInline,
    OrderEventInline,
    OrderLineInline,
    PaymentWebhookEventInline,
    RefundInline,
    state_badge,
)
from backoffice.admin.report_chart import day_chart
from backoffice.forms import AddressForm, RefundForm, ReportPeriodForm, StaffNoteForm
from backoffice.selectors.attention import FAILED_ENDED_STATES, failed_unattended, needs_attention
from backoffice.selectors.dashboard import order_stalled_on, providers_not_closed
from backoffice.selectors.report import EXPORT_HEADER, order_export_rows, order_report, period_bounds
from notifications.services import event_values, notification_text
from orders.forms import StaffDecisionForm
from orders.models import Order
from orders.selectors import (
    lines_with_refunds,
    order_payment_wait,
    order_staff_notes,
    refund_made_with,
    shipping_refundable,
)
from orders.services import (
    RefundPlan,
    ShippingAddress,
    order_dismiss,
    provider_circuit_close,
    refund_create,
    refund_preview,
)
from orders.services.address import order_address_correct, order_address_editable, order_address_refusal
from orders.services.payment_reconcile import UNREACHABLE as RECONCILE_UNREACHABLE
from orders.services.payment_reconcile import payment_reconcile
from orders.services.reorder import (
    order_live_retry,
    order_money_outcome,
    order_next_step_shown,
    payment_link_failed,
    payment_link_send,
)
from orders.states import FULL_REFUND_TRANSITION, TERMINAL_STATES, OrderState, meaning, person_transitions
from providers.declines import decline_for
from store import permissions
from store.csv_export import csv_response
from store.errors import DomainError
from store.money import money
from store.permissions import StaffAction
from workflows.review.evaluate import order_review
from workflows.trace import order_trace

S = OrderState


@dataclass(frozen=True)
class PageButton:
    """A button that is no order action (ORDER_ACTIONS): it posts to a view of its own."""

    label: str
    dangerous: bool = False
    confirm: bool = False


DISMISS = PageButton("Dismiss")
RECONCILE = PageButton("Check with the provider")
PAYMENT_LINK = PageButton("Send payment link")
ADDRESS = PageButton("Correct shipping address")
# The order page's own buttons, by the context key of their URL (shown when it is set).
PAGE_BUTTONS = {"reconcile_url": RECONCILE, "payment_link_url": PAYMENT_LINK, "address_url": ADDRESS,
                "dismiss_url": DISMISS}


# --- Orders -----------------------------------------------------------------------------------


@admin.register(Order)
class OrderAdmin(OrderNumberSearchMixin, BoundedChangeListMixin, admin.ModelAdmin):
    list_display = ("number", "customer", "state_display", "total_money", "refunded", "created", "updated")
    list_filter = ("state", "created_at", "updated_at")
    list_select_related = ("owner",)
    search_fields = ("owner__email", "owner__name", "lines__name")
    search_help_text = "Order number (#000012 or 12), the customer's e-mail or name, or a product's name."
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    actions = ("approve_selected", "reject_selected", "cancel_selected", "redrive_selected")
    change_form_template = "admin/orders/order/change_form.html"
    inlines = (OrderLineInline, OrderEventInline, RefundInline, PaymentWebhookEventInline, NotificationInline)
    readonly_fields = (
        "number", "customer_link", "state_display", "failure_reason", "subtotal_money", "shipping_money",
        "total_money", "refunded_money", "refundable", "stock_status", "created_at", "updated_at",
        "ship_address", "ship_city", "ship_state", "ship_zip",
        "payment_provider", "card_last4", "transaction_id", "payment_retries", "decline",
        "tracking_number", "carrier", "estimated_delivery", "shipping_retries",
        "idempotency_key", "review", "retry_links", "workflow_version_link",
    )
    fieldsets = (
        (None, {"fields": (
            ("number", "state_display"), "customer_link", "failure_reason",
            ("subtotal_money", "shipping_money", "total_money"), ("refunded_money", "refundable"), "stock_status",
            ("created_at", "updated_at"), "review",
            "retry_links", "workflow_version_link",
        )}),
        ("Shipping address", {"fields": ("ship_address", ("ship_city", "ship_state", "ship_zip"))}),
        ("Payment", {"fields": ("payment_provider", "card_last4", "transaction_id", "payment_retries", "decline")}),
        ("Shipment", {"fields": ("tracking_number", "carrier", "estimated_delivery", "shipping_retries")}),
        ("Request", {"fields": ("idempotency_key",), "classes": ("collapse",)}),
    )

    # --- Permissions: read-only page, no adding or deleting; buttons check their own. -------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # fields never change through a form: every change is a service call

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return permissions.can(request.user, permissions.ORDER_VIEW)

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return permissions.can(request.user, permissions.ORDER_APPROVE)

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return permissions.can(request.user, permissions.ORDER_CHANGE)

    def has_redrive_permission(self, request: HttpRequest) -> bool:
        return permissions.can(request.user, permissions.ORDER_CHANGE)

    # --- List -------------------------------------------------------------------------------

    order_number_lookup = "pk"

    @admin.display(description="workflow version")
    def workflow_version_link(self, order: Order) -> str:
        """The version of the pipeline's policy the order runs on (the current one when it was placed)."""
        url = reverse("admin:workflows_workflowversion_changelist")
        return format_html('<a href="{}?number={}">Version {}</a>', url, order.workflow_version,
                           order.workflow_version)

    @admin.display(description="review")
    def review(self, order: Order) -> str:
        """The risk score, what the review rules decided and why (the latest evaluation), and the
        hold: its reason, assignee, deadline and what the deadline does."""
        score = "—" if order.risk_score is None else order.risk_score
        lines = [format_html("Risk score (0–100): {}", score)]
        evaluation, hold = order_review(order)
        if evaluation is not None:
            deciding = evaluation.deciding
            if deciding and not evaluation.applied:
                lines.append(format_html("The review rules, not applied (a person decides): {} by rule “{}”: {}",
                                         evaluation.get_decision_display(), deciding["name"], deciding["because"]))
            elif deciding:
                lines.append(format_html("{} by rule “{}”: {}", evaluation.get_decision_display(),
                                         deciding["name"], deciding["because"]))
            else:
                asked = len(evaluation.outcomes)
                lines.append(format_html("No review rule matched ({} asked)", asked))
        if hold is not None:
            when = date_format(timezone.localtime(hold.deadline), "DATETIME_FORMAT")
            status = ("ended: " + hold.resolution.replace("_", " ")) if hold.resolved_at else (
                "overdue since " + when if hold.overdue else "deadline " + when)
            lines.append(format_html(
                "Hold: {} · assigned to {} · {} · at the deadline: {}{}", hold.reason,
                hold.assignee.email if hold.assignee_id else "nobody", status,
                hold.get_expiry_action_display().lower(),
                f" (done: {hold.expiry_outcome.lower()})" if hold.expiry_outcome else ""))
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))

    @admin.display(description="decline code")
    def decline(self, order: Order) -> str:
        """The bank's code of the decline the failure reason reports and what the pipeline does
        about it, by the order's state: a hard one is never retried; a soft one is retried as the
        workflow version says while the payment goes on, and was given up on once the order ended
        (providers.declines). The customer reads the advice in the failure reason instead."""
        if not order.decline_code:
            return "—"
        if not decline_for(order.decline_code).retryable:
            kind = "hard: never retried"
        elif order.state in TERMINAL_STATES:
            kind = "soft: retried, then given up"
        else:
            kind = "soft: retried as its workflow version says"
        return format_html('<code data-testid="decline-code">{}</code> ({})', order.decline_code, kind)

    @admin.display(description="tried again")
    def retry_links(self, order: Order) -> str:
        """The order this one tries again and the orders that tried it again (Order.retry_of)."""
        def link(other: Order) -> str:
            return format_html('<a href="{}">{}</a> ({})', reverse("admin:orders_order_change", args=[other.pk]),
                               other.number, other.get_state_display().lower())
        parts = []
        if order.retry_of_id:
            parts.append(format_html("tries again order {}", link(order.retry_of)))
        parts.extend(format_html("tried again as order {}", link(retry)) for retry in order.retries.all())
        return format_html_join("; ", "{}", ((part,) for part in parts)) or "—"

    @admin.display(description="number", ordering="id")
    def number(self, order: Order) -> str:
        return order.number

    @admin.display(description="customer", ordering="owner__email")
    def customer(self, order: Order) -> str:
        return customer_link(order.owner)

    # Compact dates ("2026-12-05 14:03", the site's time zone) that wrap between the day and the
    # time, never inside either: a narrow list keeps them whole (1400 px with both sidebars open).
    @staticmethod
    def _when(moment) -> str:
        local = timezone.localtime(moment)
        return format_html('<time datetime="{}"><span class="list-when">{}</span> <span class="list-when">{}</span>'
                           "</time>", local.isoformat(), f"{local:%Y-%m-%d}", f"{local:%H:%M}")

    @admin.display(description="created", ordering="created_at")
    def created(self, order: Order) -> str:
        return self._when(order.created_at)

    @admin.display(description="updated", ordering="updated_at")
    def updated(self, order: Order) -> str:
        return self._when(order.updated_at)

    total_money = money_field("total", "total")
    subtotal_money = money_field("subtotal", "items")

    @admin.display(description="shipping")
    def shipping_money(self, order: Order) -> str:
        """The shipping the customer chose and paid: "Express, $12.40, arriving Jan 2–Jan 3" ("Free" when it cost
        nothing), and what of it was refunded."""
        refunded = sum((refund.shipping_amount for refund in order.refunds.all()), Decimal("0.00"))
        return order.shipping_summary + (f" ({money(refunded)} refunded)" if refunded else "")
    refunded = refunded_money = money_field("refunded_amount", "refunded")

    @admin.display(description="customer")
    def customer_link(self, order: Order) -> str:
        """Linked to the customer's page (their orders, spend and notes), and their e-mail to write to."""
        mail = format_html('<a href="mailto:{}">e-mail</a>', order.owner.email)
        return format_html("{} ({})", customer_link(order.owner), mail)

    @admin.display(description="state", ordering="state")
    def state_display(self, order: Order) -> str:
        return state_badge(order)

    @admin.display(description="refundable")
    def refundable(self, order: Order) -> str:
        return money(order.refundable_amount)

    # --- Order page: buttons and the refund form ------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(self.order_page_context(request, obj))
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def order_page_context(self, request: HttpRequest, order: Order) -> dict:
        actions = [
            {
                "action": action,
                "url": reverse("admin:orders_order_action", args=[order.pk, action.name]),
            }
            for action in ORDER_ACTIONS.values()
            if action.offered_to(request.user, order)
        ]
        may_change = permissions.can(request.user, permissions.ORDER_CHANGE)
        can_refund = (any(edge.name == "refund" for edge in person_transitions(order, request.user))
                      and order.refundable_amount > 0)
        may_note = permissions.can(request.user, permissions.NOTE_ADD)
        context = {
            "staff_notes": order_staff_notes(order=order),
            "note_form": StaffNoteForm() if may_note else None,
            "note_url": reverse("admin:orders_order_note", args=[order.pk]) if may_note else "",
            "order_actions": actions,
            "refund_form": RefundForm(initial={"amount": order.refundable_amount,
                                               "idempotency_key": uuid.uuid4().hex},
                                      lines=lines_with_refunds(order.lines.all()),
                                      shipping_offered=shipping_refundable(order=order)) if can_refund else None,
            "refund_url": reverse("admin:orders_order_refund", args=[order.pk]) if can_refund else "",
            "payment_link_url": (reverse("admin:orders_order_payment_link", args=[order.pk])
                                 if may_change and payment_link_failed(order) and order_live_retry(order) is None
                                 else ""),
            "address_url": (reverse("admin:orders_order_address", args=[order.pk])
                            if may_change and order_address_editable(order) else ""),
            "reconcile_url": (reverse("admin:orders_order_reconcile", args=[order.pk])
                              if may_change and order.state == S.PAYING and order.charge_key else ""),
            "payment_wait": order_payment_wait(order=order),
            "dismiss_url": (reverse("admin:orders_order_dismiss", args=[order.pk])
                            if may_change and order.state in FAILED_ENDED_STATES
                            and failed_unattended().filter(pk=order.pk).exists() else ""),
            "order": order,
        }
        also = [button.label for key, button in PAGE_BUTTONS.items() if context[key]]
        return {**context, "order_options": order_options(request.user, order, also=also)}

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/actions/<str:action>/", wrap(self.action_view), name="orders_order_action"),
            path("<path:object_id>/refund/", wrap(self.refund_view), name="orders_order_refund"),
            path("<path:object_id>/notes/", wrap(self.note_view), name="orders_order_note"),
            path("<path:object_id>/payment-link/", wrap(self.payment_link_view), name="orders_order_payment_link"),
            path("<path:object_id>/address/", wrap(self.address_view), name="orders_order_address"),
            path("<path:object_id>/reconcile/", wrap(self.reconcile_view), name="orders_order_reconcile"),
            path("<path:object_id>/trace/", wrap(self.trace_view), name="orders_order_trace"),
            path("<path:object_id>/dismiss/", wrap(self.dismiss_view), name="orders_order_dismiss"),
            path("circuits/<str:provider>/close/", wrap(self.circuit_close_view), name="orders_circuit_close"),
            path("export/", wrap(self.export_view), name="orders_order_export"),
            path("report/", wrap(self.report_view), name="orders_order_report"),
            path("attention/", wrap(self.attention_view), name="orders_order_attention"),
            *super().get_urls(),
        ]

    def _require(self, request: HttpRequest, action: StaffAction, doing: str = "") -> None:
        """Acting on an order needs seeing it too, as on the API and the storefront (store.permissions);
        a refusal of `action` names `doing` (StaffAction.refusal_to)."""
        for needed in (permissions.ORDER_VIEW, action):
            if not permissions.can(request.user, needed):
                raise PermissionDenied(needed.refusal_to(doing if needed is action else ""))

    def _order_or_404(self, object_id: str) -> Order:
        try:
            return Order.objects.select_related("owner").get(pk=int(unquote(object_id)))
        except (ValueError, Order.DoesNotExist):
            raise Http404("No such order.") from None

    def _next(self, request: HttpRequest) -> str:
        """Where the button was (the approval queue sends `next`), when that is on this site."""
        target = request.POST.get("next") or request.GET.get("next")
        if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
            return target
        return ""

    def _back(self, request: HttpRequest, order: Order) -> HttpResponseRedirect:
        """Back where the button was, else to the order page."""
        return HttpResponseRedirect(self._next(request) or reverse("admin:orders_order_change", args=[order.pk]))

    def action_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """POST: fire one staff action (ORDER_ACTIONS) on the order through its service.

        An action with `confirm` (reject, cancel) first answers with its confirmation page, also
        to a GET; only the page's own POST (`post=yes`) acts.
        """
        chosen = ORDER_ACTIONS.get(action)
        if chosen is None:
            raise Http404("No such action.")
        if request.method != "POST" and not (chosen.confirm and request.method == "GET"):
            return HttpResponseNotAllowed(["GET", "POST"] if chosen.confirm else ["POST"])
        self._require(request, chosen.permission, f'use "{chosen.label}" on orders')
        order = self._order_or_404(object_id)
        if not chosen.is_available(order):
            messages.error(request, chosen.refusal(order))
            return self._back(request, order)
        words = {}
        if chosen.confirm:
            form = self._decision_form(request, chosen)
            if not form.is_bound or not form.is_valid():
                return self._confirmation(request, chosen, [order], form, next_url=self._next(request))
            words = form.cleaned_data
        try:
            result = chosen.run(order=order, actor=request.user, **words)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            self.log_change(request, order, f"{chosen.label} (from {order.state}).")
            if chosen.name == "retry_step":
                messages.success(request, f"Order {order.number}: its {order.get_state_display().lower()} step "
                                          "was handed back to the pipeline.")
            else:
                messages.success(request, f"Order {order.number} {chosen.done}: it is now "
                                          f"{result.get_state_display().lower()}.")
        return self._back(request, order)

    @staticmethod
    def _decision_form(request: HttpRequest, action: OrderAction) -> StaffDecisionForm:
        """Bound only to the confirmation page's own POST: the first click (a button, a bulk
        action, a GET) leaves it unbound, so nothing happens before staff confirm."""
        confirmed = request.method == "POST" and request.POST.get("post") == "yes"
        return StaffDecisionForm(request.POST if confirmed else None, default_message=action.default_message)

    def _confirmation(self, request: HttpRequest, action: OrderAction, orders: list[Order],
                      form: StaffDecisionForm, *, next_url: str = "", bulk: bool = False) -> TemplateResponse:
        """The page that asks before `action` acts on `orders`, as Django's delete_selected does."""
        context = {
            **self.admin_site.each_context(request),
            "title": "Are you sure?",
            "opts": self.opts,
            "action": action,
            "orders": [(order, action.is_available(order)) for order in orders],
            "form": form,
            "bulk": bulk,
            "bulk_action": f"{action.name}_selected",
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "next_url": next_url,
            "back_url": next_url or (reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist") if bulk
                                     else reverse("admin:orders_order_change", args=[orders[0].pk])),
        }
        return TemplateResponse(request, "admin/orders/order/confirm_action.html", context)

    def refund_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST from the order page's refund form: the confirmation page (`_refund_confirmation`),
        nothing refunded yet; POST from that page (`post=yes`): the refund (refund_create, which
        checks every number again; the form's key makes a second POST a no-op). A form or a
        refund refused goes back to the order page with the reason, nothing written; so does a
        confirmation whose refund is no longer the one it showed (another refund moved money
        since): the page is out of date."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._require(request, permissions.ORDER_REFUND)
        order = self._order_or_404(object_id)
        form = RefundForm(request.POST, lines=lines_with_refunds(order.lines.all()))
        if not form.is_valid():
            messages.error(request, f"No refund: {form.error_text()}")
            return self._back(request, order)
        try:
            if request.POST.get("post") != "yes":
                plan = refund_preview(order=order, actor=request.user, **form.refund_asked())
                return self._refund_confirmation(request, form, plan)
            if not refund_made_with(order=order, idempotency_key=form.cleaned_data["idempotency_key"]):
                stale = self._refund_stale(request, refund_preview(order=order, actor=request.user,
                                                                   **form.refund_asked()))
                if stale:
                    messages.error(request, f"No refund: {stale}")
                    return self._back(request, order)
            result = refund_create(order=order, actor=request.user,
                                   idempotency_key=form.cleaned_data["idempotency_key"], **form.refund_asked())
        except DomainError as error:
            messages.error(request, f"No refund: {error.message}")
            return self._back(request, order)
        refund = result.refund
        if not result.created:
            messages.info(request, f"This refund of {money(refund.amount)} was already made; nothing was paid again.")
            return self._back(request, order)
        order = Order.objects.get(pk=order.pk)
        parts = list(refund.lines.select_related("line"))
        items = ", ".join(str(part) for part in parts)
        self.log_change(request, order, f"Refunded {money(refund.amount)}: {refund.reason}" + (f" ({items})" if items else ""))
        what = ""
        if parts:
            names = ", ".join(f"{part.quantity} × {part.line.name}" for part in parts)
            what = f" for {names}" + (", returned to stock" if any(part.restocked for part in parts) else "")
        if order.state == S.REFUNDED:
            messages.success(request, f"Refunded {money(refund.amount)} on order {order.number}{what}: "
                                      "the order is refunded in full.")
        else:
            messages.success(request, f"Refunded {money(refund.amount)} on order {order.number}{what} "
                                      f"({money(order.refundable_amount)} left to refund).")
        return self._back(request, order)

    @staticmethod
    def _refund_said(*, amount: Decimal, refundable: Decimal, state_after: str) -> str:
        """A refund as its confirmation page says it: the amount and what it leaves, or the state it ends in."""
        if amount == refundable:
            return f"{money(amount)}, everything left to refund, so the order becomes {S(state_after).label}"
        return f"{money(amount)}, leaving {money(refundable - amount)} to refund (the order stays {S(state_after).label})"

    def _refund_stale(self, request: HttpRequest, plan: RefundPlan) -> str:
        """Why the confirmation posted is out of date ("" when the refund it showed, its hidden
        "shown_…" fields, is still `plan`): money moved since, in another tab or by a colleague."""
        shown = {name: request.POST.get(name, "") for name in plan.shown()}
        if shown == plan.shown():
            return ""
        try:
            said = self._refund_said(amount=Decimal(shown["shown_amount"]),
                                     refundable=Decimal(shown["shown_refundable"]),
                                     state_after=shown["shown_state_after"])
            was = f"it showed a refund of {said}; "
        except (ArithmeticError, ValueError):  # a page of another version, or tampered with
            was = ""
        now = self._refund_said(amount=plan.amount, refundable=plan.refundable, state_after=plan.state_after)
        return (f"this page is out of date: {was}it would now be a refund of {now}. Nothing was refunded: "
                "review the refund again.")

    def _refund_confirmation(self, request: HttpRequest, form: RefundForm, plan: RefundPlan) -> TemplateResponse:
        """The page that says what the refund will do before it is made, as Django's delete
        confirmation does: the amount, the units of each line and whether they go back to stock,
        the order's state after it and the customer's notice word for word
        (notifications.services.notification_text). Its button posts the same form with post=yes."""
        order = plan.order
        after = {"amount": str(plan.amount), "items": plan.items,
                 "shipping": str(plan.shipping_amount) if plan.shipping_amount else ""}
        values = {"refunded": money(order.refunded_amount + plan.amount), **event_values(plan.event_type, after)}
        if plan.full:
            # The next step the refund's transition will declare, as staff fire it from this state.
            step = meaning(FULL_REFUND_TRANSITION[order.state]).next_step.resolve(by_shop=True, source=order.state)
            values["next"] = order_next_step_shown(order=order, step=step).email_text
        notice = notification_text(order=order, event_type=plan.event_type, values=values)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Refund {money(plan.amount)} on order {order.number}?",
            "opts": self.opts,
            "order": order,
            "plan": plan,
            "state_after": S(plan.state_after).label,
            "reason": form.cleaned_data["reason"],
            "notice": notice,
            "carried": [*form.carried(), *plan.shown().items()],
            "next_url": self._next(request),
            "back_url": reverse("admin:orders_order_change", args=[order.pk]),
        }
        return TemplateResponse(request, "admin/orders/order/confirm_refund.html", context)

    def note_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: add an internal note on the order (staff only), then back to its page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._require(request, permissions.NOTE_ADD)
        order = self._order_or_404(object_id)
        note_added(request, StaffNoteForm(request.POST), order=order)
        return self._back(request, order)

    def payment_link_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: e-mail the owner of an order whose payment failed a link to pay again (change_order)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._require(request, permissions.ORDER_CHANGE, "send payment links")
        order = self._order_or_404(object_id)
        try:
            link = payment_link_send(order=order, actor=request.user)
        except DomainError as error:
            messages.error(request, f"No payment link sent: {error.message}")
        else:
            self.log_change(request, order, "Sent a payment link.")
            messages.success(request, f"A payment link for order {order.number} goes by e-mail to {order.owner.email} "
                                      "(the notifications below say when it was sent); it works once, until "
                                      f"{link.expires_at:%Y-%m-%d %H:%M} UTC.")
        return self._back(request, order)

    def reconcile_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: "Check with the provider": ask the payment provider about the charge the order waits
        for and settle the order by its answer (orders.services.payment_reconcile; change_order)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._require(request, permissions.ORDER_CHANGE, "check orders' payments with the provider")
        order = self._order_or_404(object_id)
        found = payment_reconcile(order_id=order.pk, asked_by=request.user.email)
        if found.transition:
            self.log_change(request, order, f"Checked the payment with the provider: {found.found}.")
            messages.success(request, found.message)
        elif found.found == RECONCILE_UNREACHABLE:
            messages.warning(request, found.message)
        else:
            messages.info(request, found.message)
        return self._back(request, order)

    def trace_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: everything that happened to the order, oldest first, in words (workflows.trace)."""
        self._require(request, permissions.ORDER_VIEW)
        trace = order_trace(order_id=self._order_or_404(object_id).pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Trace of order {trace.order.number}",
            "opts": self.opts,
            "order": trace.order,
            "entries": trace.entries,
            "time_zone": settings.TIME_ZONE,
        }
        return TemplateResponse(request, "admin/orders/order/trace.html", context)

    def dismiss_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: "Dismiss" an order that ended after a failed payment or shipment: staff dealt with it,
        so Needs attention stops listing it (orders.services.order_dismiss; change_order)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._require(request, permissions.ORDER_CHANGE, "dismiss orders")
        order = self._order_or_404(object_id)
        try:
            dismissed = order_dismiss(order=order, actor=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            if dismissed:
                self.log_change(request, order, "Dismissed from Needs attention.")
                messages.success(request, f"Order {order.number} dismissed: Needs attention no longer lists it.")
            else:
                messages.info(request, f"Order {order.number} was already dismissed; nothing changed.")
        return self._back(request, order)

    def address_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: the order's address in a form; POST: correct it while the order has not shipped or ended
        (change_order), once the carrier said it delivers there (409 form error if not, 503 + Retry-After
        when it cannot say now)."""
        self._require(request, permissions.ORDER_CHANGE, "correct shipping addresses")
        order = self._order_or_404(object_id)
        back = reverse("admin:orders_order_change", args=[order.pk])
        if refusal := order_address_refusal(order):
            messages.error(request, refusal)
            return HttpResponseRedirect(back)
        form = AddressForm(request.POST if request.method == "POST" else None, initial=order.ship_to())
        status, retry_after = (400 if form.is_bound else 200), None
        if form.is_bound and form.is_valid():
            try:
                order_address_correct(order=order, shipping=ShippingAddress(**form.cleaned_data), actor=request.user)
            except DomainError as error:
                if error.code not in ("provider_unavailable", "address_undeliverable"):
                    messages.error(request, error.message)  # the order moved on meanwhile
                    return HttpResponseRedirect(back)
                # The carrier refused the address, or could not say: the form again, with why.
                form.add_error(None, error.message)
                status, retry_after = error.status, getattr(error, "retry_after", None)
            else:
                self.log_change(request, order, "Corrected the shipping address.")
                messages.success(request, f"The shipping address of order {order.number} was corrected.")
                return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Correct the shipping address of order {order.number}",
            "opts": self.opts,
            "order": order,
            "form": form,
            "back_url": back,
        }
        response = TemplateResponse(request, "admin/orders/order/address_form.html", context, status=status)
        if retry_after is not None:
            response["Retry-After"] = str(retry_after)
        return response

    def circuit_close_view(self, request: HttpRequest, provider: str) -> HttpResponse:
        """POST (from the admin home page): close a provider's circuit by hand, after staff confirmed
        the provider answers again; the orders waiting on it go on at once."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        self._require(request, permissions.ORDER_CHANGE, "close a provider's circuit")
        try:
            result = provider_circuit_close(provider=provider, actor=request.user)
        except ValueError:
            raise Http404("No such provider.") from None
        if result.was_open:
            messages.success(request, f"The {provider} circuit is closed: calls go to the {provider} provider "
                                      f"again, and {plural(result.handed_back, 'order')} in the {provider} step went "
                                      "back to the pipeline.")
        else:
            messages.info(request, f"The {provider} circuit was already closed; nothing changed.")
        return HttpResponseRedirect(reverse("admin:index"))

    # --- Export, report, needs attention --------------------------------------------------

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """GET: the orders the changelist shows for the same query string (filters, search, ordering),
        all pages, as CSV (backoffice.selectors.report.EXPORT_HEADER). An unknown filter is a 400."""
        self._require(request, permissions.ORDER_VIEW)
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponse("Unknown filter in the address: export from the order list's own filters.",
                                status=400, content_type="text/plain; charset=utf-8")
        return csv_response(filename=f"orders-{timezone.now():%Y%m%d-%H%M%S}.csv", header=EXPORT_HEADER,
                            rows=order_export_rows(changelist.queryset))

    def report_view(self, request: HttpRequest) -> HttpResponse:
        """GET: orders, revenue and refunds per day and per state over `date_from`..`date_to`
        (ReportPeriodForm; the last 30 days without them). Bad dates: the form with its errors, 400."""
        self._require(request, permissions.ORDER_VIEW)
        today = timezone.localdate()
        given = request.GET if {"date_from", "date_to"} & set(request.GET) else ReportPeriodForm.defaults(today)
        form = ReportPeriodForm(given)
        report, chart, export_url = None, None, ""
        if form.is_valid():
            start, end = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
            report = order_report(date_from=start, date_to=end)
            chart = day_chart(report) if report.total.orders else None
            since, until = period_bounds(start, end)
            export_url = reverse("admin:orders_order_export") + "?" + urlencode(
                {"created_at__gte": str(since), "created_at__lt": str(until)})
        context = {
            **self.admin_site.each_context(request),
            "title": "Orders report: revenue, refunds and orders per day and per state",
            "opts": self.opts,
            "form": form,
            "report": report,
            "chart": chart,
            "export_url": export_url,
            "time_zone": settings.TIME_ZONE,
        }
        return TemplateResponse(request, "admin/orders/report.html", context, status=200 if form.is_valid() else 400)

    def attention_view(self, request: HttpRequest) -> HttpResponse:
        """GET: what a person must look at now (backoffice.selectors.attention.needs_attention), each order
        with the buttons the user may press on it; they come back here."""
        self._require(request, permissions.ORDER_VIEW)
        back = reverse("admin:orders_order_attention")
        may_see_tasks = request.user.has_perm("django_q.view_failure")
        may_change = permissions.can(request.user, permissions.ORDER_CHANGE)

        def buttons(order: Order, section: str = "") -> list[dict]:
            found = [{"action": action, "url": reverse("admin:orders_order_action", args=[order.pk, action.name])}
                     for action in ORDER_ACTIONS.values() if action.offered_to(request.user, order)]
            if may_change and section == "confirmation" and order.charge_key:
                found.insert(0, {"action": RECONCILE, "url": reverse("admin:orders_order_reconcile", args=[order.pk])})
            if may_change and section == "ended":
                found.append({"action": DISMISS, "url": reverse("admin:orders_order_dismiss", args=[order.pk])})
            return found

        def row(order: Order, section: str) -> dict:
            if section == "held":  # the hold came with the order (select_related): since it waits
                since = getattr(getattr(order, "hold", None), "created_at", None)
            else:
                since = {"ended": getattr(order, "ended_at", None),
                         "confirmation": order.charge_pending_since,
                         "delivery": getattr(order, "problem_at", None)}.get(section)
            since = since or order.updated_at
            return {"order": order, "buttons": buttons(order, section), "since": since,
                    "money": order_money_outcome(order) if section == "ended" else "",
                    "wait": order_payment_wait(order=order) if section == "confirmation" else None}

        sections = [
            {
                "section": section,
                "orders": [row(order, section.key) for order in section.orders],
                "tasks": [{"task": task, "buttons": buttons(task.order) if task.order else [],
                           "url": reverse("admin:django_q_failure_change", args=[task.failure.pk])
                           if may_see_tasks else ""} for task in section.tasks],
                "charges": section.charges,
            }
            for section in needs_attention()
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Needs attention",
            "opts": self.opts,
            "sections": sections,
            "total": sum(item["section"].count for item in sections),
            "back": back,
        }
        return TemplateResponse(request, "admin/orders/attention.html", context)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        links = {"export_url": reverse("admin:orders_order_export"),
                 "report_url": reverse("admin:orders_order_report"),
                 "attention_url": reverse("admin:orders_order_attention")}
        return super().changelist_view(request, {**links, **(extra_context or {})})

    # --- Bulk actions ---------------------------------------------------------------------

    def _bulk(self, request: HttpRequest, queryset: QuerySet[Order], action: OrderAction,
              then: Callable[[list[Order]], None] | None = None) -> TemplateResponse | None:
        orders = list(queryset.select_related("owner").order_by("created_at", "id"))
        words = {}
        if action.confirm:
            form = self._decision_form(request, action)
            if not form.is_bound or not form.is_valid():
                return self._confirmation(request, action, orders, form, bulk=True)
            words = form.cleaned_data
        done, refused = [], []
        for order in orders:
            if not action.is_available(order):
                refused.append(action.refusal(order))
                continue
            try:
                action.run(order=order, actor=request.user, **words)
            except DomainError as error:
                refused.append(error.message)
            else:
                done.append(order)
        if done:
            LogEntry.objects.log_actions(
                user_id=request.user.pk, queryset=done, action_flag=CHANGE, change_message=f"{action.label} (bulk)."
            )
            numbers = ", ".join(order.number for order in done)
            messages.success(request, f"{plural(len(done), 'order')} {action.done}: {numbers}.")
        if refused:
            messages.warning(request, f"{plural(len(refused), 'order')} refused: {' '.join(refused)}")
        if done and then is not None:
            then(done)
        return None

    @admin.action(description="Approve selected orders", permissions=["approve"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._bulk(request, queryset, ORDER_ACTIONS["approve"])

    @admin.action(description="Reject selected orders…", permissions=["approve"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse | None:
        return self._bulk(request, queryset, ORDER_ACTIONS["reject"])

    @admin.action(description="Cancel selected orders…", permissions=["cancel"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse | None:
        return self._bulk(request, queryset, ORDER_ACTIONS["cancel"])

    @admin.action(description="Re-drive selected orders", permissions=["redrive"])
    def redrive_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        stalled_on = order_stalled_on(list(queryset.filter(state=S.STALLED).values_list("pk", flat=True)))

        def still_closed(done: list[Order]) -> None:
            # Re-driven while the provider's circuit is open, an order waits in its step: say so.
            open_now = providers_not_closed()
            waiting = sorted({stalled_on.get(order.pk) for order in done} & open_now)
            for provider in waiting:
                count = sum(1 for order in done if stalled_on.get(order.pk) == provider)
                messages.warning(request, f"The {provider} provider's circuit is open: "
                                          f"{plural(count, 'order')} wait in their step and go on by themselves "
                                          "once it closes.")

        self._bulk(request, queryset, REDRIVE, then=still_closed)
