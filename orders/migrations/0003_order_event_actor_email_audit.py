"""Who did it stays on an order's event when the staff account is deleted; "Shop staff" may read
the audit trail of staff actions (store/audit.py) and withdraw products from sale (the one
permission policy, store/permissions.py, asks catalog.delete_product for it everywhere)."""
from django.db import migrations, models


def shop_staff_read_audit_trail(apps, schema_editor):
    from store.staff import shop_staff_group_sync

    shop_staff_group_sync(
        apps=apps, using=schema_editor.connection.alias, permissions=("auditlog.view_logentry", "catalog.delete_product")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_approval_queue_shop_staff_group"),
        ("auditlog", "0017_add_actor_email"),
    ]

    operations = [
        migrations.AddField(
            model_name="orderevent",
            name="actor_email",
            field=models.EmailField(blank=True, max_length=254),
        ),
        migrations.RunPython(shop_staff_read_audit_trail, migrations.RunPython.noop),
    ]
