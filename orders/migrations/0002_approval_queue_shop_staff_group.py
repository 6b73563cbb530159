"""The approval queue's proxy model, and the "Shop staff" group (store/staff.py)."""
from django.db import migrations

# The group's permissions when this migration was written (later ones add to them).
PERMISSIONS = (
    "catalog.view_product",
    "catalog.change_product",
    "catalog.view_category",
    "catalog.change_category",
    "orders.view_order",
    "orders.change_order",
    "orders.approve_order",
    "orders.view_refund",
    "workflows.view_reviewrule",
    "workflows.change_reviewrule",
    "workflows.view_notification",
    "workflows.view_gatewaycall",
)


def create_shop_staff_group(apps, schema_editor):
    from store.staff import shop_staff_group_sync

    shop_staff_group_sync(apps=apps, using=schema_editor.connection.alias, permissions=PERMISSIONS)


def delete_shop_staff_group(apps, schema_editor):
    from store.staff import SHOP_STAFF_GROUP

    apps.get_model("auth", "Group").objects.using(schema_editor.connection.alias).filter(name=SHOP_STAFF_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0001_initial"),
        ("catalog", "0001_initial"),
        ("workflows", "0002_sweeper_schedule"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.CreateModel(
            name="OrderAwaitingApproval",
            fields=[],
            options={
                "verbose_name": "order awaiting approval",
                "verbose_name_plural": "approval queue",
                "ordering": ["created_at", "id"],
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("orders.order",),
        ),
        migrations.RunPython(create_shop_staff_group, delete_shop_staff_group),
    ]
