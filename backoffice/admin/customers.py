"""Customers in the admin: find a customer by e-mail or name, and their page.

The customer page (/admin/orders/customer/<id>/change/) shows in one place the customer's
orders with their states and totals (each linked to its order page), lifetime spend
(backoffice.selectors.customers.customer_summary says exactly what it counts), account age, the
shipping addresses their orders used, the orders whose payment was declined, and staff's
internal notes on the customer and on their orders, with a form to add one.

Governed by the Order permissions, as the order pages are (store.permissions): seeing a
customer needs orders.view_order, adding a note orders.add_staffnote besides. Every order's
admin page (list and page) links its customer's name and e-mail here, and so does the User
admin (backoffice.admin.accounts).
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from backoffice.admin.base import BoundedChangeListMixin
from backoffice.forms import StaffNoteForm
from backoffice.selectors.customers import customer_list, customer_summary
from orders.models import Customer
from orders.services import staff_note_add
from store import permissions
from store.errors import DomainError
from store.money import money


def customer_page_url(user_id: int) -> str:
    return reverse("admin:orders_customer_change", args=[user_id])


def customer_link(user) -> str:
    """The customer's name and e-mail, linked to their customer page ("Casey Customer <casey@…>")."""
    label = f"{user.name} <{user.email}>" if user.name else user.email
    return format_html('<a href="{}" class="customer-link">{}</a>', customer_page_url(user.pk), label)


@admin.register(Customer)
class CustomerAdmin(BoundedChangeListMixin, admin.ModelAdmin):
    list_display = ("email", "name", "order_count", "lifetime_spend", "date_joined")
    list_display_links = ("email", "name")
    search_fields = ("email", "name")
    search_help_text = "The customer's e-mail or name (part of it will do)."
    ordering = ("email",)
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        return customer_list(super().get_queryset(request))

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return permissions.can(request.user, permissions.ORDER_VIEW)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # accounts are changed in the User admin, by those who may

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="orders", ordering="order_count")
    def order_count(self, customer: Customer) -> int:
        return customer.order_count

    @admin.display(description="lifetime spend", ordering="lifetime_spend")
    def lifetime_spend(self, customer: Customer) -> str:
        return money(customer.lifetime_spend)  # rounded to the cent: SQLite's sum of an expression has float-like digits

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/notes/", wrap(self.note_view), name="orders_customer_note"),
            *super().get_urls(),
        ]

    def _customer_or_404(self, object_id: str) -> Customer:
        try:
            return Customer.objects.get(pk=int(unquote(object_id)))
        except (ValueError, Customer.DoesNotExist):
            raise Http404("No such customer.") from None

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        """The customer page: read-only, rendered from customer_summary."""
        if not self.has_view_permission(request):
            raise PermissionDenied(permissions.ORDER_VIEW.refusal)
        customer = self._customer_or_404(object_id)
        may_note = permissions.can(request.user, permissions.NOTE_ADD)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Customer {customer.name or customer.email}",
            "subtitle": customer.email,
            "opts": self.opts,
            "original": customer,
            "summary": customer_summary(customer=customer),
            "note_form": StaffNoteForm() if may_note else None,
            "note_url": reverse("admin:orders_customer_note", args=[customer.pk]) if may_note else "",
            "user_admin_url": (reverse("admin:accounts_user_change", args=[customer.pk])
                               if request.user.has_perm("accounts.view_user") else ""),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/orders/customer/customer_page.html", context)

    def note_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: add an internal note on the customer (staff only), then back to their page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        for needed in (permissions.ORDER_VIEW, permissions.NOTE_ADD):
            if not permissions.can(request.user, needed):
                raise PermissionDenied(needed.refusal)
        customer = self._customer_or_404(object_id)
        note_added(request, StaffNoteForm(request.POST), customer=customer)
        return HttpResponseRedirect(customer_page_url(customer.pk))


def note_added(request: HttpRequest, form: StaffNoteForm, *, order=None, customer=None) -> bool:
    """Add the note `form` holds through staff_note_add and say what happened in a message."""
    if not form.is_valid():
        messages.error(request, f"No note added: {form.error_text()}")
        return False
    try:
        staff_note_add(author=request.user, text=form.cleaned_data["text"], order=order, customer=customer)
    except DomainError as error:
        messages.error(request, f"No note added: {error.message}")
        return False
    about = f"order {order.number}" if order is not None else (customer.name or customer.email)
    messages.success(request, f"Note added on {about}. Staff only: the customer never sees it.")
    return True
