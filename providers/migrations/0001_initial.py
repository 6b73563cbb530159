"""The simulated providers' ledger and card vault, moved here from the workflows app.

State only: the tables stay as workflows/0001 created them (db_table keeps their names), so
no data moves. workflows/0005 then forgets the models on its side, also in state only.
"""
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        # The tables as the workflows app last changed them.
        ("workflows", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="CardToken",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("token", models.CharField(max_length=64, unique=True)),
                        ("last4", models.CharField(max_length=4)),
                        ("behaviour", models.CharField(blank=True, max_length=20)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        "db_table": "workflows_cardtoken",
                    },
                ),
                migrations.CreateModel(
                    name="GatewayCall",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("gateway", models.CharField(choices=[("inventory", "Inventory"), ("payment", "Payment"), ("shipping", "Shipping"), ("notification", "Notification")], max_length=20)),
                        ("operation", models.CharField(max_length=20)),
                        ("idempotency_key", models.CharField(max_length=128)),
                        ("order_id", models.BigIntegerField(db_index=True, null=True)),
                        ("outcome", models.CharField(max_length=20)),
                        ("final", models.BooleanField(default=True, help_text="False for transient errors (timeouts).")),
                        ("result", models.JSONField(default=dict)),
                        ("latency_ms", models.PositiveIntegerField(default=0)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        "db_table": "workflows_gatewaycall",
                        "ordering": ["id"],
                        "indexes": [models.Index(fields=["idempotency_key", "final"], name="gatewaycall_key_final")],
                        "constraints": [models.UniqueConstraint(condition=models.Q(("final", True)), fields=("gateway", "operation", "idempotency_key"), name="gatewaycall_one_final_result_per_key")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
