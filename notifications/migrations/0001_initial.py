"""Customer notifications, moved here from the workflows app.

State only: the table stays as workflows/0004 left it (db_table keeps its name), so no data
moves. workflows/0005 then forgets the model on its side, also in state only.
"""
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("orders", "0001_initial"),
        # The table as the workflows app last changed it.
        ("workflows", "0004_notification_outbox"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Notification",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("event_type", models.CharField(max_length=40)),
                        ("title", models.CharField(max_length=200)),
                        ("body", models.TextField(blank=True)),
                        ("read_at", models.DateTimeField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("email_sent_at", models.DateTimeField(blank=True, null=True)),
                        ("email_attempts", models.PositiveSmallIntegerField(default=0)),
                        ("email_claimed_until", models.DateTimeField(blank=True, null=True)),
                        ("order", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="notifications", to="orders.order")),
                        ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="notifications", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "db_table": "workflows_notification",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [
                            models.Index(fields=["user", "read_at"], name="notification_user_read"),
                            models.Index(condition=models.Q(("email_sent_at__isnull", True)), fields=["created_at"], name="notification_email_unsent"),
                        ],
                        "constraints": [models.UniqueConstraint(fields=("order", "event_type"), name="notification_once_per_event")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
