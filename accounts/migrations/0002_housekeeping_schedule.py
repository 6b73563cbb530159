"""Revoked and expired API tokens (simplejwt's blacklist) are dropped once a day, on a
django-q2 schedule: a token past its expiry is refused whether or not it is listed."""
from django.db import migrations

NAME = "flush-expired-tokens"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={"func": "django.core.management.call_command", "args": "'flushexpiredtokens'",
                  "schedule_type": "D", "repeats": -1},
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
        ("token_blacklist", "0013_alter_blacklistedtoken_options_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
