"""Staff roles: the groups an owner gives people, each with its permissions declared here once.

`ROLES` is the table (role name → what it is for → its permissions). The groups are kept equal
to it: `roles_sync` runs after every `migrate` (post_migrate, connected in StoreConfig.ready,
and again after a test's flush) and gives each role group exactly its permissions, adding what
is missing and taking away what is not in the table; other groups are left alone. Owners
(superusers) give roles on the admin's Staff page (backoffice.admin.staff); the admin's
Groups page shows the role groups read-only.

Refunds are deliberately not in "Shop staff": "orders.refund_order" moves money and is its own
role. Publishing a workflow version (every new order then runs on it) and webhooks (an endpoint
receives every order's data) are roles of their own too. The data migrations that created
"Shop staff" before the table existed call `shop_staff_group_sync` with the permissions of
their time.
"""
import logging
from dataclasses import dataclass

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS

logger = logging.getLogger("store.staff")


@dataclass(frozen=True)
class Role:
    """`permissions` are "<app_label>.<codename>", as `User.has_perm` takes them."""

    name: str
    description: str
    permissions: tuple[str, ...]


SHOP_STAFF_GROUP = "Shop staff"
SHOP_STAFF_PERMISSIONS = (
    "catalog.view_product",
    "catalog.change_product",
    "catalog.delete_product",  # withdraw from sale and put back (products are never deleted)
    "catalog.view_category",
    "catalog.change_category",
    "orders.view_order",
    "orders.change_order",  # cancel and retry orders (transition buttons), never edit fields
    "orders.approve_order",
    "orders.add_staffnote",  # write internal notes; whoever may see an order reads its notes
    "orders.view_refund",
    "workflows.view_reviewrule",
    "workflows.change_reviewrule",
    "workflows.add_reviewrule",
    "workflows.delete_reviewrule",
    "workflows.view_workflowversion",  # read the pipeline's policy and draft changes; publishing is not in it
    "workflows.add_workflowversion",
    "workflows.change_workflowversion",
    "notifications.view_notification",
    "providers.view_gatewaycall",
    "providers.view_shippingzone",  # the shipping rate card; changing it is the Catalog role's
    "auditlog.view_logentry",  # the "Staff actions" page
)

REFUNDS_ROLE = "Refunds"
CATALOG_ROLE = "Catalog"
REVIEW_RULES_ROLE = "Review rules"
WEBHOOKS_ROLE = "Webhooks"
PUBLISHING_ROLE = "Workflow publishing"

ROLES: dict[str, Role] = {role.name: role for role in (
    Role(SHOP_STAFF_GROUP, "Runs the shop day to day: orders (cancel, retry, approve, reject, notes), products' "
         "prices and stock, review rules, drafts of the workflow, the audit trail, the shipping rate card (to "
         "read). No refunds.",
         SHOP_STAFF_PERMISSIONS),
    # Refunding another customer's order needs seeing it (store.permissions): the role carries both.
    Role(REFUNDS_ROLE, "Refunds orders, in full or line by line, and sees orders and past refunds to do so.",
         ("orders.view_order", "orders.view_refund", "orders.refund_order")),
    # What things cost: the products' prices and the shipping rate card.
    Role(CATALOG_ROLE, "Adds products and categories, changes them, withdraws products from sale; edits the "
         "shipping rate card (zones, their destinations and rates).",
         ("catalog.view_product", "catalog.add_product", "catalog.change_product", "catalog.delete_product",
          "catalog.view_category", "catalog.add_category", "catalog.change_category",
          "providers.view_shippingzone", "providers.change_shippingzone")),
    # Trying a rule on recent orders shows those orders: orders.view_order.
    Role(REVIEW_RULES_ROLE, "Adds, changes and deletes the review rules that hold or reject orders, and tries "
         "them on recent orders (which it sees).",
         ("workflows.view_reviewrule", "workflows.add_reviewrule", "workflows.change_reviewrule",
          "workflows.delete_reviewrule", "orders.view_order")),
    Role(WEBHOOKS_ROLE, "Registers the endpoints that receive every order's events (addresses included), "
         "reads their delivery log and replays deliveries.",
         ("webhooks.change_webhookendpoint",)),
    Role(PUBLISHING_ROLE, "Drafts and publishes workflow versions: every new order runs on the one published.",
         ("workflows.view_workflowversion", "workflows.add_workflowversion", "workflows.change_workflowversion",
          "workflows.publish_workflowversion")),
)}


def roles_with(permission: str) -> list[str]:
    """The names of the roles that carry `permission` ("<app_label>.<codename>"), in the table's order."""
    return [role.name for role in ROLES.values() if permission in role.permissions]


def _permissions_get(names, *, apps, using: str) -> list:
    """The Permission rows of `names` ("app.codename"), created first if needed: in a migration
    they do not exist yet (post_migrate creates them at the end). LookupError names any missing."""
    for label in sorted({name.split(".")[0] for name in names}):
        app_config = apps.get_app_config(label)
        if getattr(app_config, "models_module", None) is None:  # a historical app, which create_permissions skips
            app_config.models_module = True
            try:
                create_permissions(app_config, verbosity=0, using=using, apps=apps)
            finally:
                app_config.models_module = None
        else:
            create_permissions(app_config, verbosity=0, using=using, apps=apps)

    Permission = apps.get_model("auth", "Permission")  # noqa: N806 - a model class
    wanted = {tuple(name.split(".")) for name in names}
    found = [
        permission
        for permission in Permission.objects.using(using).filter(
            content_type__app_label__in={app for app, _ in wanted}, codename__in={code for _, code in wanted}
        ).select_related("content_type")
        if (permission.content_type.app_label, permission.codename) in wanted
    ]
    missing = wanted - {(p.content_type.app_label, p.codename) for p in found}
    if missing:
        raise LookupError(f"permissions missing: {sorted('.'.join(name) for name in missing)}")
    return found


def shop_staff_group_sync(
    *, apps=global_apps, using: str = DEFAULT_DB_ALIAS, permissions: tuple[str, ...] = SHOP_STAFF_PERMISSIONS
):
    """Create the "Shop staff" group if needed and give it `permissions` (other grants are kept).

    `apps` is a migration's historical registry or the live one; a migration passes the
    permissions of its time."""
    Group = apps.get_model("auth", "Group")  # noqa: N806 - a model class
    found = _permissions_get(permissions, apps=apps, using=using)
    group, _ = Group.objects.using(using).get_or_create(name=SHOP_STAFF_GROUP)
    group.permissions.add(*found)
    return group


def roles_sync(*, apps=global_apps, using: str = DEFAULT_DB_ALIAS) -> dict:
    """Make each role's group (created if needed) hold exactly its ROLES permissions, logging a
    WARNING (logger "store.staff") for each permission added to or removed from a group that
    existed. Returns {role name: Group}. LookupError when a permission of the table does not exist."""
    Group = apps.get_model("auth", "Group")  # noqa: N806 - a model class
    # One look-up for every role's permissions: each app's permissions are created (or checked) once,
    # not once per role (this runs after every migrate and every test database flush).
    every = {f"{p.content_type.app_label}.{p.codename}": p
             for p in _permissions_get({name for role in ROLES.values() for name in role.permissions},
                                       apps=apps, using=using)}
    groups = {}
    for role in ROLES.values():
        found = [every[name] for name in role.permissions]
        group, created = Group.objects.using(using).get_or_create(name=role.name)
        if not created:
            _changes_warn(group, found)
        group.permissions.set(found)
        groups[role.name] = group
    return groups


def _label(permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def _changes_warn(group, found: list) -> None:
    """A WARNING for each permission the sync is about to add to or take from an existing role
    group: a group of that name made by hand, or changed by hand since, is reset to the table."""
    held = {_label(permission) for permission in group.permissions.select_related("content_type")}
    wanted = {_label(permission) for permission in found}
    for name in sorted(wanted - held):
        logger.warning("staff role %r: permission %s added, as store.staff.ROLES declares", group.name, name)
    for name in sorted(held - wanted):
        logger.warning("staff role %r: permission %s removed, not in store.staff.ROLES (give extras to a group "
                       "of another name)", group.name, name)


def roles_after_migrate(sender, *, using: str = DEFAULT_DB_ALIAS, apps=global_apps, **kwargs) -> None:
    """post_migrate: sync the roles once per `migrate` (or flush), after the last app's signal,
    when every app's permissions exist. A database migrated back before a role's models keeps
    its groups as they are."""
    with_models = [config for config in global_apps.get_app_configs() if config.models_module is not None]
    if not with_models or sender.label != with_models[-1].label:
        return
    try:
        roles_sync(apps=apps, using=using)
    except LookupError as error:
        logger.warning("staff roles not synced: %s", error)
