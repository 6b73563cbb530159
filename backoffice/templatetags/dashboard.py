"""Template tags of the store's admin pages."""
from django import template
from django.urls import reverse

from backoffice.selectors.dashboard import admin_dashboard as dashboard_summary
from store import permissions

register = template.Library()


@register.inclusion_tag("admin/orders/dashboard.html", takes_context=True)
def admin_dashboard(context) -> dict:
    """The summary at the top of the admin home page, for staff who may see orders (store.permissions);
    links only where the user may follow them."""
    user = context["request"].user
    if not permissions.can(user, permissions.ORDER_VIEW):
        return {"summary": None}
    summary = dashboard_summary()
    orders_url = reverse("admin:orders_order_changelist")
    may_close = permissions.can(user, permissions.ORDER_CHANGE)
    links = {
        "orders": orders_url,
        "delayed": f"{orders_url}?state__exact=stalled",
        "attention": reverse("admin:orders_order_attention"),
        "report": reverse("admin:orders_order_report"),
        "queue": reverse("admin:orders_orderawaitingapproval_changelist") if orders_url else "",
        "failures": reverse("admin:django_q_failure_changelist") if user.has_perm("django_q.view_failure") else "",
        "low_stock": (
            reverse("admin:catalog_product_changelist") + "?stock_level=low&is_active__exact=1"
            if user.has_perm("catalog.view_product")
            else ""
        ),
    }
    circuits = [
        {"view": view, "close_url": reverse("admin:orders_circuit_close", args=[view.provider])
         if may_close and view.state != "closed" else ""}
        for view in summary.circuits
    ]
    # An inclusion tag's template gets only this dict: the close buttons' forms need the token.
    return {"summary": summary, "links": links, "circuits": circuits, "csrf_token": context.get("csrf_token")}
