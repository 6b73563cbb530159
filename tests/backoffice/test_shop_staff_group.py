"""The "Shop staff" group: made by a data migration, without the refund permission."""
from django.contrib.auth.models import Group, Permission

from store.staff import SHOP_STAFF_GROUP, SHOP_STAFF_PERMISSIONS, shop_staff_group_sync


def perms_of(group: Group) -> set[str]:
    return {f"{app}.{code}" for app, code in group.permissions.values_list("content_type__app_label", "codename")}


def test_the_migration_created_the_group_without_refunds(db):
    group = Group.objects.get(name=SHOP_STAFF_GROUP)

    assert perms_of(group) == set(SHOP_STAFF_PERMISSIONS)
    assert "orders.refund_order" not in perms_of(group)
    assert {"orders.approve_order", "orders.view_order", "catalog.change_product", "workflows.change_reviewrule",
            "orders.view_refund", "notifications.view_notification", "providers.view_gatewaycall"} <= perms_of(group)


def test_members_may_do_what_the_group_allows_and_not_refund(shop_staff):
    assert shop_staff.has_perms(SHOP_STAFF_PERMISSIONS)
    assert not shop_staff.has_perm("orders.refund_order")
    assert not shop_staff.has_perm("orders.delete_order")
    assert not shop_staff.has_perm("catalog.add_product")
    # "delete" withdraws a product from sale and puts it back: products are never deleted.
    assert shop_staff.has_perm("catalog.delete_product")


def test_syncing_again_keeps_the_group_and_what_was_granted_to_it(db):
    group = Group.objects.get(name=SHOP_STAFF_GROUP)
    extra = Permission.objects.get(content_type__app_label="catalog", codename="add_product")
    group.permissions.add(extra)

    again = shop_staff_group_sync()

    assert again.pk == group.pk
    assert perms_of(again) == {*SHOP_STAFF_PERMISSIONS, "catalog.add_product"}
    assert Group.objects.filter(name=SHOP_STAFF_GROUP).count() == 1
