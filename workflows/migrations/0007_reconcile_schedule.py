"""Pending payments are reconciled with the provider on a django-q2 schedule, every minute
(post_migrate follows the current workflow version: workflows.tasks.sweeper_schedule_sync)."""
from django.db import migrations


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="reconcile-pending-payments",
        defaults={"func": "workflows.tasks.payments_reconcile", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="reconcile-pending-payments").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0006_review_rule_facts"),
        ("orders", "0014_payment_charge_key"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
