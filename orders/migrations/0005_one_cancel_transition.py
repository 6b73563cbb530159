"""The two cancel transitions (from new; from validated or awaiting approval) are now one,
`cancel`: the timeline and the trace of older orders name it so too."""
from django.db import migrations

OLD_NAMES = ("cancel_order", "cancel_validated")


def rename_forward(apps, schema_editor):
    apps.get_model("orders", "OrderEvent").objects.filter(transition__in=OLD_NAMES).update(transition="cancel")


def rename_backward(apps, schema_editor):
    events = apps.get_model("orders", "OrderEvent").objects.filter(transition="cancel")
    events.filter(source_state="new").update(transition="cancel_order")
    events.update(transition="cancel_validated")


class Migration(migrations.Migration):
    dependencies = [("orders", "0004_refund_idempotency_key")]

    operations = [migrations.RunPython(rename_forward, rename_backward)]
