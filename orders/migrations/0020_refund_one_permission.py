"""Refunds have one permission to make them, "orders.refund_order" ("Can refund orders"): the
refund rows' own add, change and delete permissions and their lines' governed nothing and read
like a second one, so they go (with any grant of them); "Can view refund" stays."""
from django.db import migrations

UNUSED = {"refund": ("add_refund", "change_refund", "delete_refund"),
          "refundline": ("add_refundline", "change_refundline", "delete_refundline", "view_refundline")}


def delete_unused_permissions(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")  # noqa: N806 - a model class
    for model, codenames in UNUSED.items():
        Permission.objects.using(schema_editor.connection.alias).filter(
            content_type__app_label="orders", content_type__model=model, codename__in=codenames).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0019_order_decline_code"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="refund",
            options={"default_permissions": ("view",), "ordering": ["created_at", "id"]},
        ),
        migrations.AlterModelOptions(
            name="refundline",
            options={"default_permissions": (), "ordering": ["id"]},
        ),
        migrations.RunPython(delete_unused_permissions, migrations.RunPython.noop),
    ]
