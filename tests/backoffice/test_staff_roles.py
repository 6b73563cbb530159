"""Staff roles: one group per role of store.staff.ROLES, holding exactly the table's permissions
after every migrate; refunds read as one permission."""
from django.contrib.auth.models import Group, Permission
from django.test import Client

from store.staff import ROLES, SHOP_STAFF_GROUP, roles_sync


def perms_of(group: Group) -> set[str]:
    return {f"{app}.{code}" for app, code in group.permissions.values_list("content_type__app_label", "codename")}


def test_the_migration_made_one_group_per_role_with_exactly_its_permissions(db):
    groups = {group.name: group for group in Group.objects.filter(name__in=ROLES)}

    assert sorted(groups) == sorted(["Shop staff", "Refunds", "Catalog", "Review rules", "Webhooks",
                                     "Workflow publishing"])
    for name, role in ROLES.items():
        assert perms_of(groups[name]) == set(role.permissions), name
    assert "orders.refund_order" in perms_of(groups["Refunds"])
    assert "orders.refund_order" not in perms_of(groups[SHOP_STAFF_GROUP])
    assert perms_of(groups["Webhooks"]) == {"webhooks.change_webhookendpoint"}
    assert "workflows.publish_workflowversion" in perms_of(groups["Workflow publishing"])
    assert "catalog.add_product" in perms_of(groups["Catalog"])


def test_syncing_makes_each_role_group_match_the_table_again_and_leaves_other_groups(db):
    refunds = Group.objects.get(name="Refunds")
    refunds.permissions.add(Permission.objects.get(content_type__app_label="catalog", codename="add_product"))
    refunds.permissions.remove(Permission.objects.get(content_type__app_label="orders", codename="refund_order"))
    desk = Group.objects.create(name="Front desk")
    desk.permissions.add(Permission.objects.get(content_type__app_label="orders", codename="view_order"))
    Group.objects.filter(name="Catalog").delete()

    groups = roles_sync()

    assert perms_of(Group.objects.get(name="Refunds")) == set(ROLES["Refunds"].permissions)
    assert groups["Refunds"].pk == refunds.pk
    assert perms_of(Group.objects.get(name="Catalog")) == set(ROLES["Catalog"].permissions)
    assert perms_of(desk) == {"orders.view_order"}


def test_refunds_are_governed_by_one_permission(db):
    refund_permissions = {code: name for code, name in Permission.objects.filter(
        content_type__app_label="orders", codename__contains="refund").values_list("codename", "name")}

    # The order's "Can refund orders" makes refunds; the refund rows are only ever seen.
    assert refund_permissions == {"refund_order": "Can refund orders", "view_refund": "Can view refund"}


def test_the_role_groups_are_read_only_in_the_groups_page_even_for_owners(staff_user):
    owner = Client()
    owner.force_login(staff_user)
    refunds = Group.objects.get(name="Refunds")
    add_product = Permission.objects.get(content_type__app_label="catalog", codename="add_product")

    page = owner.get(f"/admin/auth/group/{refunds.pk}/change/")
    answer = owner.post(f"/admin/auth/group/{refunds.pk}/change/", {"name": "Refunds",
                                                                    "permissions": [add_product.pk]})

    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert answer.status_code == 403
    assert perms_of(refunds) == set(ROLES["Refunds"].permissions)


def test_the_sync_warns_of_each_permission_it_adds_to_or_takes_from_an_existing_group(db, caplog):
    """A hand-made "Refunds" group (say, from before the roles) is reset to the table, loudly."""
    refunds = Group.objects.get(name="Refunds")
    refunds.permissions.add(Permission.objects.get(content_type__app_label="catalog", codename="add_product"))
    refunds.permissions.remove(Permission.objects.get(content_type__app_label="orders", codename="refund_order"))
    Group.objects.filter(name="Catalog").delete()  # created afresh: nobody's group is changed

    with caplog.at_level("WARNING", logger="store.staff"):
        roles_sync()

    assert [(record.name, record.levelname, record.getMessage()) for record in caplog.records] == [
        ("store.staff", "WARNING", "staff role 'Refunds': permission orders.refund_order added, as "
                                   "store.staff.ROLES declares"),
        ("store.staff", "WARNING", "staff role 'Refunds': permission catalog.add_product removed, not in "
                                   "store.staff.ROLES (give extras to a group of another name)"),
    ]
    caplog.clear()
    with caplog.at_level("WARNING", logger="store.staff"):
        roles_sync()  # nothing to change: nothing said
    assert caplog.records == []
