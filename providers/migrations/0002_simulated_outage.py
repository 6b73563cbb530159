from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("providers", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SimulatedOutage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("provider", models.CharField(choices=[("inventory", "Inventory"), ("risk", "Risk"), ("payment", "Payment"), ("shipping", "Shipping")], max_length=20, unique=True)),
                ("until", models.DateTimeField()),
                ("mode", models.CharField(choices=[("timeout", "every call waits its timeout, then times out"), ("error", "every call fails at once")], default="timeout", max_length=10)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["provider"],
            },
        ),
    ]
