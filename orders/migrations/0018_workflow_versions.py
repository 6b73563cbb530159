"""Each order records the workflow version it runs on: the orders placed so far ran on version 1
(the policy the settings gave, fixtures/workflow.yaml); new ones take the current version."""
import orders.workflow
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0017_tracking_events'),
    ]

    operations = [
        migrations.AddField(
            model_name='order',
            name='workflow_version',
            field=models.PositiveIntegerField(default=1, editable=False),
        ),
        migrations.AlterField(
            model_name='order',
            name='workflow_version',
            field=models.PositiveIntegerField(default=orders.workflow.workflow_version_current, editable=False),
        ),
    ]
