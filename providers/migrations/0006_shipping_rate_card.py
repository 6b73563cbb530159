"""The carrier's rate card (providers.rates); post_migrate seeds it (providers.apps.rate_card_ensure)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('providers', '0005_provider_call'),
    ]

    operations = [
        migrations.CreateModel(
            name='ShippingZone',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=60, unique=True)),
                ('is_fallback', models.BooleanField(default=False, help_text="Prices every address that no zone's states or ZIP prefixes name.", verbose_name='fallback')),
            ],
            options={
                'ordering': ['name'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('is_fallback', True)), fields=('is_fallback',), name='shippingzone_one_fallback')],
            },
        ),
        migrations.CreateModel(
            name='ShippingRate',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('service', models.CharField(choices=[('standard', 'Standard'), ('express', 'Express')], max_length=20)),
                ('base_cost', models.DecimalField(decimal_places=2, max_digits=8)),
                ('cost_per_kg', models.DecimalField(decimal_places=2, max_digits=8, verbose_name='cost per kg')),
                ('days_min', models.PositiveSmallIntegerField(verbose_name='days (fewest)')),
                ('days_max', models.PositiveSmallIntegerField(verbose_name='days (most)')),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('zone', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rates', to='providers.shippingzone')),
            ],
            options={
                'ordering': ['zone', 'service'],
                'constraints': [models.UniqueConstraint(fields=('zone', 'service'), name='shippingrate_one_per_zone_service'), models.CheckConstraint(condition=models.Q(('base_cost__gte', 0), ('cost_per_kg__gte', 0)), name='shippingrate_costs_not_negative'), models.CheckConstraint(condition=models.Q(('days_max__gte', models.F('days_min')), ('days_min__gte', 1)), name='shippingrate_days_in_order')],
            },
        ),
        migrations.CreateModel(
            name='ShippingDestination',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('state', models.CharField(blank=True, help_text="A state's two-letter code, e.g. NY.", max_length=2)),
                ('zip_prefix', models.CharField(blank=True, help_text='The first 1 to 5 digits of a ZIP code, e.g. 100.', max_length=5, verbose_name='ZIP prefix')),
                ('zone', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='destinations', to='providers.shippingzone')),
            ],
            options={
                'ordering': ['state', 'zip_prefix'],
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('state', ''), models.Q(('zip_prefix', ''), _negated=True)), models.Q(models.Q(('state', ''), _negated=True), ('zip_prefix', '')), _connector='OR'), name='shippingdestination_state_or_zip_prefix'), models.UniqueConstraint(condition=models.Q(('state', ''), _negated=True), fields=('state',), name='shippingdestination_state_once'), models.UniqueConstraint(condition=models.Q(('zip_prefix', ''), _negated=True), fields=('zip_prefix',), name='shippingdestination_zip_prefix_once')],
            },
        ),
    ]
