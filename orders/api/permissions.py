"""Who may do what to orders through the API."""
from rest_framework.permissions import BasePermission


class CanRefundOrders(BasePermission):
    """Staff with the "Can refund orders" permission."""

    message = "You do not have permission to refund orders."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff and user.has_perm("orders.refund_order"))


class CanApproveOrders(BasePermission):
    """Staff with the "Can approve or reject held orders" permission."""

    message = "You do not have permission to approve or reject orders."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff and user.has_perm("orders.approve_order"))
