"""Orders keep their subtotal and shipping (service, cost, delivery window) beside the total they
are charged, and refunds what of them gave back shipping. Orders placed so far shipped free:
their subtotal is their total."""

import django.db.models.expressions
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


def subtotal_from_total(apps, schema_editor):
    apps.get_model("orders", "Order").objects.update(subtotal=models.F("total"))


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0021_order_state_checking_address'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='order',
            name='delivery_earliest',
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='order',
            name='delivery_latest',
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='order',
            name='shipping_cost',
            field=models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=10),
        ),
        migrations.AddField(
            model_name='order',
            name='shipping_service',
            field=models.CharField(choices=[('standard', 'Standard'), ('express', 'Express')], default='standard', max_length=20),
        ),
        migrations.AddField(
            model_name='order',
            name='subtotal',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=12),
        ),
        migrations.RunPython(subtotal_from_total, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='order',
            name='subtotal',
            field=models.DecimalField(decimal_places=2, max_digits=12),
        ),
        migrations.AddField(
            model_name='refund',
            name='shipping_amount',
            field=models.DecimalField(decimal_places=2, default=Decimal('0.00'), max_digits=10),
        ),
        migrations.AddConstraint(
            model_name='order',
            constraint=models.CheckConstraint(condition=models.Q(('total', django.db.models.expressions.CombinedExpression(models.F('subtotal'), '+', models.F('shipping_cost')))), name='order_total_is_subtotal_and_shipping'),
        ),
        migrations.AddConstraint(
            model_name='order',
            constraint=models.CheckConstraint(condition=models.Q(('shipping_cost__gte', 0)), name='order_shipping_cost_not_negative'),
        ),
        migrations.AddConstraint(
            model_name='refund',
            constraint=models.CheckConstraint(condition=models.Q(('shipping_amount__gte', 0), ('shipping_amount__lte', models.F('amount'))), name='refund_shipping_within_amount'),
        ),
    ]
