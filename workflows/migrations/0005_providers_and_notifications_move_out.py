"""The simulated providers' models (GatewayCall, CardToken) and Notification now belong to the
providers and notifications apps, on the same tables: forget them here, in state only.

Their content types move with them, so the permissions granted on them (the "Shop staff"
group's) and the admin's history stay attached. Tasks waiting in the outbox name the e-mail
task by its new path.
"""
from django.db import migrations

MOVED = (("gatewaycall", "providers"), ("cardtoken", "providers"), ("notification", "notifications"))
SEND_TASK = ("workflows.notifications.notification_send", "notifications.services.notification_send")


def content_types_move(apps, schema_editor, *, forwards=True):
    ContentType = apps.get_model("contenttypes", "ContentType")  # noqa: N806 - a model class
    types = ContentType.objects.using(schema_editor.connection.alias)
    for model, app in MOVED:
        source, target = ("workflows", app) if forwards else (app, "workflows")
        if not types.filter(app_label=target, model=model).exists():
            types.filter(app_label=source, model=model).update(app_label=target)
    old, new = SEND_TASK if forwards else SEND_TASK[::-1]
    OutboxTask = apps.get_model("workflows", "OutboxTask")  # noqa: N806
    OutboxTask.objects.using(schema_editor.connection.alias).filter(func=old).update(func=new)


def content_types_move_back(apps, schema_editor):
    content_types_move(apps, schema_editor, forwards=False)


class Migration(migrations.Migration):

    dependencies = [
        ("workflows", "0004_notification_outbox"),
        ("providers", "0001_initial"),
        ("notifications", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="CardToken"),
                migrations.DeleteModel(name="GatewayCall"),
                migrations.DeleteModel(name="Notification"),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_move, content_types_move_back),
    ]
