"""The "Shop staff" group: what the people running the shop may do in the admin.

Refunds are deliberately not in it: "orders.refund_order" moves money and is granted to
people one by one. The data migration orders/0002 creates the group; tests that flush the
database call `shop_staff_group_sync` themselves.
"""
from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS

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
    "auditlog.view_logentry",  # the "Staff actions" page
)


def shop_staff_group_sync(
    *, apps=global_apps, using: str = DEFAULT_DB_ALIAS, permissions: tuple[str, ...] = SHOP_STAFF_PERMISSIONS
):
    """Create the group if needed and give it `permissions` (other grants are kept).

    `apps` is a migration's historical registry or the live one; a migration passes the
    permissions of its time. Permissions are created first: in a migration they do not exist
    yet (post_migrate creates them at the end).
    """
    for label in sorted({name.split(".")[0] for name in permissions}):
        app_config = apps.get_app_config(label)
        if getattr(app_config, "models_module", None) is None:  # a historical app, which create_permissions skips
            app_config.models_module = True
            try:
                create_permissions(app_config, verbosity=0, using=using, apps=apps)
            finally:
                app_config.models_module = None
        else:
            create_permissions(app_config, verbosity=0, using=using, apps=apps)

    Group = apps.get_model("auth", "Group")  # noqa: N806 - a model class
    Permission = apps.get_model("auth", "Permission")  # noqa: N806
    wanted = {tuple(name.split(".")) for name in permissions}
    permissions = [
        permission
        for permission in Permission.objects.using(using).filter(
            content_type__app_label__in={app for app, _ in wanted}, codename__in={code for _, code in wanted}
        ).select_related("content_type")
        if (permission.content_type.app_label, permission.codename) in wanted
    ]
    missing = wanted - {(p.content_type.app_label, p.codename) for p in permissions}
    if missing:
        raise LookupError(f"permissions missing for the {SHOP_STAFF_GROUP!r} group: {sorted(missing)}")
    group, _ = Group.objects.using(using).get_or_create(name=SHOP_STAFF_GROUP)
    group.permissions.add(*permissions)
    return group
