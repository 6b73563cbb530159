"""Orders record the payment provider that holds their card, so refunds go back to it. Every
order with a card so far was tokenized by the simulator."""
from django.db import migrations, models


def record_simulator(apps, schema_editor):
    apps.get_model("orders", "Order").objects.exclude(payment_token="").update(payment_provider="simulator")


class Migration(migrations.Migration):
    dependencies = [("orders", "0005_one_cancel_transition")]

    operations = [
        migrations.AddField(model_name="order", name="payment_provider", field=models.CharField(blank=True, max_length=40)),
        migrations.RunPython(record_simulator, migrations.RunPython.noop),
    ]
