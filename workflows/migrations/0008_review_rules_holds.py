"""Review rules become condition trees with an action; evaluations and holds are recorded.

Each rule's one comparison becomes a tree of one comparison meaning the same on the fact's own
steps and range (a rule that could never match is kept, disabled); its name is the reason staff
read, priorities follow the order the rules were made. Every order waiting for approval gets a
hold with the shop's default deadline from now; the "Shop staff" group may add and delete rules.
"""
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


# The old facts as the rules' facts keep them (workflows.review.facts): (lowest, highest, step).
# The shop's default hold then: 24 hours, then remind the approvers.
HOLD_HOURS = 24

FACT_RANGES = {
    "total": (Decimal("0.00"), Decimal("9999999999.99"), Decimal("0.01")),
    "risk_score": (Decimal(0), Decimal(100), Decimal(1)),
    "item_count": (Decimal(0), Decimal(100_000), Decimal(1)),
    "line_count": (Decimal(0), Decimal(1_000), Decimal(1)),
}


def same_test(fact: str, op: str, value: Decimal) -> tuple[str, Decimal] | None:
    """The old comparison on the fact's own steps and range, meaning the same ("risk_score ≥ 80.5"
    is "≥ 81"; "total ≥ -5" is "≥ 0.00"), or None when it could never match."""
    low, high, step = FACT_RANGES[fact]
    if value % step == 0 and low <= value <= high:
        return op, value
    below = (value / step).to_integral_value(ROUND_FLOOR) * step  # the step at or below the value
    above = (value / step).to_integral_value(ROUND_CEILING) * step
    if op in ("gt", "gte"):
        first = max(below + step if op == "gt" else above, low)
        return ("gte", first) if first <= high else None
    if op in ("lt", "lte"):
        last = min(above - step if op == "lt" else below, high)
        return ("lte", last) if last >= low else None
    return None  # eq a value the fact never takes


def rules_to_conditions(apps, schema_editor):
    ReviewRule = apps.get_model("workflows", "ReviewRule")  # noqa: N806 - a model class
    for position, rule in enumerate(ReviewRule.objects.order_by("pk"), start=1):
        test = same_test(rule.field, rule.operator, Decimal(rule.value))
        rule.reason = rule.name[:200]
        if test is None:  # kept for staff to read, disabled: its condition can never match either
            test = ("lt", FACT_RANGES[rule.field][0])
            rule.enabled = False
            rule.reason = f"{rule.name} (disabled by the upgrade: it could never match)"[:200]
        op, value = test
        canonical = f"{value:.2f}" if rule.field == "total" else int(value)
        rule.condition = {"all": [{"fact": rule.field, "op": op, "value": canonical}]}
        rule.priority = 10 * position
        rule.save(update_fields=["condition", "reason", "priority", "enabled"])


def conditions_to_rules(apps, schema_editor):
    """Back: a rule of one comparison of an old fact is that comparison; any other is disabled."""
    ReviewRule = apps.get_model("workflows", "ReviewRule")  # noqa: N806
    for rule in ReviewRule.objects.all():
        leaves = rule.condition.get("all") or rule.condition.get("any") or []
        leaf = leaves[0] if len(leaves) == 1 else {}
        if leaf.get("fact") in FACT_RANGES and leaf.get("op") in ("eq", "gt", "gte", "lt", "lte"):
            rule.field, rule.operator, rule.value = leaf["fact"], leaf["op"], Decimal(str(leaf["value"]))
        else:
            rule.field, rule.operator, rule.value, rule.enabled = "total", "gte", Decimal("0.00"), False
        rule.save(update_fields=["field", "operator", "value", "enabled"])


def holds_for_held_orders(apps, schema_editor):
    Order = apps.get_model("orders", "Order")  # noqa: N806
    OrderEvent = apps.get_model("orders", "OrderEvent")  # noqa: N806
    Hold = apps.get_model("workflows", "Hold")  # noqa: N806
    ReviewRule = apps.get_model("workflows", "ReviewRule")  # noqa: N806
    now = django.utils.timezone.now()
    for order in Order.objects.filter(state="awaiting_approval"):
        held = OrderEvent.objects.filter(order=order, target_state="awaiting_approval").order_by("-created_at").first()
        name = (held.detail or {}).get("rule", "") if held else ""
        rule = ReviewRule.objects.filter(name=name).order_by("pk").first() if name else None
        system = "Risk screening was unavailable: look at the order yourself"
        Hold.objects.create(
            order=order, rule=rule, rule_name=name, reason=(rule.reason if rule else "") or name or system,
            system=not name, deadline=now + timedelta(hours=HOLD_HOURS),
            expiry_action="remind",
            created_at=held.created_at if held else now)


def shop_staff_adds_rules(apps, schema_editor):
    from store.staff import shop_staff_group_sync

    shop_staff_group_sync(apps=apps, using=schema_editor.connection.alias,
                          permissions=("workflows.add_reviewrule", "workflows.delete_reviewrule"))


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0015_unwanted_not_ours'),
        ('workflows', '0007_reconcile_schedule'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='reviewrule',
            options={'ordering': ['priority', 'id']},
        ),
        migrations.AddField(
            model_name='reviewrule',
            name='action',
            field=models.CharField(choices=[('hold', 'Hold for approval'), ('reject', 'Reject the order')], default='hold', max_length=10),
        ),
        migrations.AddField(
            model_name='reviewrule',
            name='condition',
            field=models.JSONField(help_text='A tree of comparisons: {"all": […]}, {"any": […]}, {"not": …}, {"fact", "op", "value"}.', null=True),
        ),
        migrations.AddField(
            model_name='reviewrule',
            name='customer_message',
            field=models.CharField(blank=True, help_text="What the customer reads when this rule rejects their order (or cancels it at the hold's deadline).", max_length=200),
        ),
        migrations.AddField(
            model_name='reviewrule',
            name='expiry_action',
            field=models.CharField(blank=True, choices=[('cancel', 'Cancel it (the customer is told, stock is released)'), ('approve', 'Approve it'), ('remind', 'Remind the approvers by e-mail and keep it waiting')], help_text="What happens to an order it holds at the deadline; empty: the shop's default.", max_length=10),
        ),
        migrations.AddField(
            model_name='reviewrule',
            name='hold_hours',
            field=models.PositiveSmallIntegerField(blank=True, help_text="How long an order it holds may wait for a person; empty: the shop's default.", null=True, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(720)]),
        ),
        migrations.AddField(
            model_name='reviewrule',
            name='priority',
            field=models.PositiveIntegerField(default=100, help_text='Rules are asked lowest first; the first that matches decides.'),
        ),
        migrations.AddField(
            model_name='reviewrule',
            name='reason',
            field=models.CharField(blank=True, help_text='Why it holds an order, as staff read it.', max_length=200),
        ),
        # Nullable first, so that going back can add them again before filling them.
        migrations.AlterField(
            model_name='reviewrule',
            name='field',
            field=models.CharField(choices=[('total', 'Order total (USD)'), ('risk_score', 'Risk score (0–100)'), ('item_count', 'Number of items'), ('line_count', 'Number of lines')], help_text='The order fact it tests.', max_length=20, null=True),
        ),
        migrations.AlterField(
            model_name='reviewrule',
            name='operator',
            field=models.CharField(choices=[('gte', '≥'), ('gt', '>'), ('lte', '≤'), ('lt', '<'), ('eq', '=')], max_length=3, null=True),
        ),
        migrations.AlterField(
            model_name='reviewrule',
            name='value',
            field=models.DecimalField(decimal_places=2, max_digits=12, null=True),
        ),
        migrations.RunPython(rules_to_conditions, conditions_to_rules),
        migrations.RemoveField(
            model_name='reviewrule',
            name='field',
        ),
        migrations.RemoveField(
            model_name='reviewrule',
            name='operator',
        ),
        migrations.RemoveField(
            model_name='reviewrule',
            name='value',
        ),
        migrations.AlterField(
            model_name='reviewrule',
            name='condition',
            field=models.JSONField(help_text='A tree of comparisons: {"all": […]}, {"any": […]}, {"not": …}, {"fact", "op", "value"}.'),
        ),
        migrations.CreateModel(
            name='RuleEvaluation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('facts', models.JSONField(default=dict, help_text='The facts the rules read, money as strings.')),
                ('outcomes', models.JSONField(default=list)),
                ('decision', models.CharField(choices=[('pass', 'Passed'), ('hold', 'Held for approval'), ('reject', 'Rejected')], max_length=10)),
                ('applied', models.BooleanField(default=True)),
                ('request_id', models.CharField(blank=True, max_length=128)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('order', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rule_evaluations', to='orders.order')),
                ('rule', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='workflows.reviewrule')),
            ],
            options={
                'ordering': ['created_at', 'id'],
            },
        ),
        migrations.CreateModel(
            name='Hold',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('rule_name', models.CharField(blank=True, help_text="The rule's name when it held the order.", max_length=120)),
                ('reason', models.CharField(help_text='Why the order waits, as staff read it.', max_length=200)),
                ('system', models.BooleanField(default=False, help_text='Held by the pipeline itself, not by a rule.')),
                ('deadline', models.DateTimeField()),
                ('expiry_action', models.CharField(choices=[('cancel', 'Cancel it (the customer is told, stock is released)'), ('approve', 'Approve it'), ('remind', 'Remind the approvers by e-mail and keep it waiting')], max_length=10)),
                ('customer_message', models.CharField(blank=True, help_text='Told if the deadline cancels it.', max_length=200)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('expired_at', models.DateTimeField(blank=True, null=True)),
                ('expiry_outcome', models.CharField(blank=True, max_length=200)),
                ('resolved_at', models.DateTimeField(blank=True, null=True)),
                ('resolution', models.CharField(blank=True, max_length=40)),
                ('assignee', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='holds_assigned', to=settings.AUTH_USER_MODEL)),
                ('order', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='hold', to='orders.order')),
                ('resolved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('rule', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='holds', to='workflows.reviewrule')),
                ('evaluation', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='workflows.ruleevaluation')),
            ],
            options={
                'ordering': ['deadline', 'id'],
            },
        ),
        migrations.AddIndex(
            model_name='ruleevaluation',
            index=models.Index(fields=['order', 'created_at'], name='ruleevaluation_order_created'),
        ),
        migrations.AddIndex(
            model_name='hold',
            index=models.Index(fields=['resolved_at', 'deadline'], name='hold_open_deadline'),
        ),
        migrations.RunPython(holds_for_held_orders, migrations.RunPython.noop),
        migrations.RunPython(shop_staff_adds_rules, migrations.RunPython.noop),
    ]
