"""One-off pipeline runs used to leave their django-q2 schedule behind (one row per delayed
delivery, forever); new ones are deleted once they ran. This drops the spent ones."""
from django.db import migrations


def delete_spent(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(
        name__startswith="pipeline-order-", schedule_type="O", repeats=0
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0002_sweeper_schedule"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(delete_spent, migrations.RunPython.noop)]
