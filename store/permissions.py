"""Who may do what: every staff action and the one Django permission it needs, on every surface.

The API's permission classes (`StaffPermission`), the storefront's views and the admin all
ask `can()` here, so a staff action needs the same permission wherever it is taken. The
table in docs/permissions.md lists the same actions with the answer each kind of account
gets, and tests/backoffice/test_permission_policy.py runs that table.

A staff action needs an active staff account (the admin's own condition for signing in)
that holds the action's permission, directly or through a group; a superuser holds every
permission. Anybody else is refused with 403 `{"error", "code": "permission_denied"}` on
the API, 403 on pages and in the admin. Customers only ever see and act on their own
orders: reading someone else's order needs ORDER_VIEW, and without it the order does not
exist for them (404), so its number reveals nothing.

With settings.STAFF_REQUIRE_2FA on, anyone who may refund orders or manage staff (a superuser)
takes no staff action at all until this request carries their second factor
(`second_factor_missing`): refused 403 `second_factor_required` on the API, and the admin sends
them to enter their code (backoffice.site). A read that their permission would widen beyond a
customer's (every order, withdrawn products) is refused the same way (`sees_as_staff`), not
narrowed to what a customer sees.
"""
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Permission
from rest_framework.permissions import BasePermission

from store.errors import PermissionRefused
from store.staff import roles_with


@dataclass(frozen=True)
class StaffAction:
    """`permission` is "<app_label>.<codename>", as `User.has_perm` takes it."""

    permission: str
    description: str

    @property
    def refusal(self) -> str:
        return self.refusal_to()

    def refusal_to(self, doing: str = "") -> str:
        """The refusal naming what was tried (`doing`, e.g. "retry orders"; the action's
        description when not given): one permission covers several actions, and the customer
        or staff member reads which one they may not take."""
        return f"You do not have permission to {doing or self.description}."

    def __call__(self, instance, user) -> bool:
        """As a django-fsm transition's `permission=`: whether `user` may fire it."""
        return can(user, self)


@dataclass(frozen=True)
class OwnerOr:
    """A transition's `permission=`: the object's owner, or staff holding `action`."""

    action: StaffAction

    def __call__(self, instance, user) -> bool:
        return can_as_owner(user, self.action, owner_id=instance.owner_id)


def SYSTEM(instance, user) -> bool:  # noqa: N802 - a constant in the declarations that use it
    """A transition's `permission=` for the pipeline's own transitions: no person fires them."""
    return False


ORDER_VIEW = StaffAction("orders.view_order", "see other customers' orders")
# Cancel someone else's order, retry, re-drive, correct an address, send a payment link, check a
# payment with the provider, close a provider's circuit, dismiss an ended order from Needs
# attention: each refusal names its own (`refusal_to`).
ORDER_CHANGE = StaffAction("orders.change_order", "change orders")
ORDER_APPROVE = StaffAction("orders.approve_order", "approve or reject held orders")
ORDER_REFUND = StaffAction("orders.refund_order", "refund orders")
# Internal notes on orders and customers, for staff only (orders.models.StaffNote).
NOTE_ADD = StaffAction("orders.add_staffnote", "add internal notes on orders and customers")
PRODUCT_VIEW = StaffAction("catalog.view_product", "see withdrawn products")
PRODUCT_ADD = StaffAction("catalog.add_product", "add products")
PRODUCT_CHANGE = StaffAction("catalog.change_product", "change products")
# Products are never deleted (past orders refer to them): the "delete" permission withdraws
# a product from sale and puts it back.
PRODUCT_WITHDRAW = StaffAction("catalog.delete_product", "withdraw products from sale or put them back")

# Review rules: which validated orders are held for approval or rejected (workflows.models.ReviewRule).
RULE_VIEW = StaffAction("workflows.view_reviewrule", "see review rules")
RULE_ADD = StaffAction("workflows.add_reviewrule", "add review rules")
RULE_CHANGE = StaffAction("workflows.change_reviewrule", "change review rules")
RULE_DELETE = StaffAction("workflows.delete_reviewrule", "delete review rules")

# The pipeline's policy (workflows.models.WorkflowVersion): drafts are added and changed, publishing
# (which every new order then runs on) is a permission of its own.
WORKFLOW_VIEW = StaffAction("workflows.view_workflowversion", "see the pipeline's workflow versions")
WORKFLOW_ADD = StaffAction("workflows.add_workflowversion", "draft workflow versions")
WORKFLOW_CHANGE = StaffAction("workflows.change_workflowversion", "change draft workflow versions")
WORKFLOW_PUBLISH = StaffAction("workflows.publish_workflowversion", "publish workflow versions")

# Webhook endpoints, their secrets, delivery log and replays (webhooks): one permission for all.
WEBHOOK_MANAGE = StaffAction("webhooks.change_webhookendpoint", "manage webhooks")

# The carrier's rate card (providers.models.ShippingZone and its destinations and rates): one
# permission to read it, one to add, change and delete zones with everything on their page.
SHIPPING_VIEW = StaffAction("providers.view_shippingzone", "see the shipping rate card")
SHIPPING_CHANGE = StaffAction("providers.change_shippingzone", "change the shipping rate card")

STAFF_ACTIONS = (
    ORDER_VIEW, ORDER_CHANGE, ORDER_APPROVE, ORDER_REFUND, NOTE_ADD,
    PRODUCT_VIEW, PRODUCT_ADD, PRODUCT_CHANGE, PRODUCT_WITHDRAW,
    RULE_VIEW, RULE_ADD, RULE_CHANGE, RULE_DELETE, WORKFLOW_VIEW, WORKFLOW_ADD, WORKFLOW_CHANGE, WORKFLOW_PUBLISH,
    WEBHOOK_MANAGE, SHIPPING_VIEW, SHIPPING_CHANGE,
)


# Who grants permissions: only superusers give staff status, groups and permissions
# (backoffice.admin.accounts), so a staff member missing one asks them.
GRANTED_BY = "a superuser (one of the shop's owners)"


def permission_name(action: StaffAction) -> str:
    """The permission's name as the admin's user page lists it ("Can refund orders"), or its
    "<app_label>.<codename>" when the database has no such permission yet."""
    app_label, codename = action.permission.split(".", 1)
    name = (Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            .values_list("name", flat=True).first())
    return name or action.permission


def missing_text(action: StaffAction, doing: str = "") -> str:
    """What a staff member without `action`'s permission reads: what it would let them do
    (`doing`, else the action's description), the permission by name and code, who grants it and
    the roles that carry it (store.staff.ROLES). "To refund orders you need the permission “Can
    refund orders” (orders.refund_order), which a superuser (one of the shop's owners) can grant
    you with the role “Refunds”."
    """
    roles = " or ".join(f"“{name}”" for name in roles_with(action.permission))
    return (f"To {doing or action.description} you need the permission “{permission_name(action)}” "
            f"({action.permission}), which {GRANTED_BY} can grant you" + (f" with the role {roles}." if roles else "."))


# Holders of any of these (and superusers, who manage staff) give a second factor when the shop
# requires it: the actions that move money or grant powers.
SECOND_FACTOR_ACTIONS = (ORDER_REFUND,)
SECOND_FACTOR_REFUSAL = (
    "Your account may refund orders or manage staff, so this shop asks for your second factor first: "
    "sign in again with the 6-digit code from your authenticator app (the API's token request takes it "
    "as `otp`), or a recovery code."
)


def second_factor_needed(user) -> bool:
    """Whether `user` must give a second factor (settings.STAFF_REQUIRE_2FA, and a superuser or a
    holder of one of SECOND_FACTOR_ACTIONS' permissions)."""
    return bool(
        settings.STAFF_REQUIRE_2FA
        and user is not None
        and user.is_authenticated
        and (user.is_superuser or any(user.has_perm(action.permission) for action in SECOND_FACTOR_ACTIONS))
    )


def second_factor_missing(user) -> bool:
    """Whether `user` must give a second factor and the request did not carry it.

    A request's user says whether it did through `user.is_verified()`: django-otp's middleware
    sets it from the session, store.api.authentication from the token's claim. A user loaded
    outside a request (an assignee, a worker's actor) has no such method and is judged by their
    permissions alone.
    """
    is_verified = getattr(user, "is_verified", None)
    return is_verified is not None and not is_verified() and second_factor_needed(user)


def _holds(user, action: StaffAction) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm(action.permission)
    )


def can(user, action: StaffAction) -> bool:
    """Whether `user` may take `action`: an active staff account holding its permission, with its
    second factor given when it needs one (`second_factor_missing`)."""
    return _holds(user, action) and not second_factor_missing(user)


def can_as_owner(user, action: StaffAction, *, owner_id: int) -> bool:
    """The owner may act on what is theirs (a customer's own order); anyone else needs `action`."""
    return bool(user is not None and user.is_authenticated and user.pk == owner_id) or can(user, action)


def require(user, action: StaffAction, *, owner_id: int | None = None, doing: str = "") -> None:
    """Raise PermissionRefused (403) unless `user` may take `action` (or owns the object, given
    `owner_id`); the refusal names `doing` (StaffAction.refusal_to)."""
    allowed = can(user, action) if owner_id is None else can_as_owner(user, action, owner_id=owner_id)
    if not allowed:
        if _holds(user, action) and second_factor_missing(user):
            raise PermissionRefused(SECOND_FACTOR_REFUSAL, code="second_factor_required")
        raise PermissionRefused(action.refusal_to(doing))


def can_any(user, *actions: StaffAction) -> bool:
    return any(can(user, action) for action in actions)


def sees_as_staff(user, *actions: StaffAction) -> bool:
    """Whether `user` sees more than a customer through one of `actions` (every order, withdrawn
    products…). A holder of one of their permissions whose request lacks the second factor it
    needs is refused (PermissionRefused 403 second_factor_required) rather than shown a customer's
    narrower view (a 404 or an empty list would say the thing does not exist)."""
    if can_any(user, *actions):
        return True
    if second_factor_missing(user) and any(_holds(user, action) for action in actions):
        raise PermissionRefused(SECOND_FACTOR_REFUSAL, code="second_factor_required")
    return False


def can_see_withdrawn_products(user) -> bool:
    """Staff who may see, change or withdraw products also see the withdrawn ones."""
    return can_any(user, PRODUCT_VIEW, PRODUCT_CHANGE, PRODUCT_WITHDRAW)


def sees_withdrawn_products(user) -> bool:
    """`can_see_withdrawn_products`, refusing a holder without their second factor (`sees_as_staff`)."""
    return sees_as_staff(user, PRODUCT_VIEW, PRODUCT_CHANGE, PRODUCT_WITHDRAW)


def StaffPermission(*actions: StaffAction, doing: str = "") -> type[BasePermission]:  # noqa: N802 - a class
    """A DRF permission class: 401 without a token, 403 permission_denied without one of `actions`'
    permissions (a view that takes several narrows it down with `require`); the refusal names
    `doing`, what the view does (StaffAction.refusal_to). 403 second_factor_required when the
    permission is held but the token does not carry the second factor it needs."""

    class _StaffPermission(BasePermission):
        guards = actions  # the actions it checks (the declarations are compared with them)
        message = actions[0].refusal_to(doing)
        code = "permission_denied"

        def has_permission(self, request, view) -> bool:
            if can_any(request.user, *actions):
                return True
            if second_factor_missing(request.user) and any(_holds(request.user, action) for action in actions):
                self.message, self.code = SECOND_FACTOR_REFUSAL, "second_factor_required"
            return False

    names = ", ".join(action.permission for action in actions)
    _StaffPermission.__name__ = _StaffPermission.__qualname__ = f"StaffPermission({names})"
    return _StaffPermission
