"""Workflow versions: the pipeline's policy as data. Version 1 is fixtures/workflow.yaml; the
"Shop staff" group may read versions and draft new ones (publishing is granted person by person)."""
from pathlib import Path

import django.db.models.deletion
import django.utils.timezone
import yaml
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def first_version(apps, schema_editor):
    # The file as it is read now, with yaml alone: a migration must not run app code that changes
    # later. Readers complete a stored policy to the pipeline's steps of their day.
    policy = yaml.safe_load((Path(settings.BASE_DIR) / "fixtures" / "workflow.yaml").read_text(encoding="utf-8"))
    if not isinstance(policy, dict):
        raise RuntimeError("fixtures/workflow.yaml holds no policy: version 1 cannot be stored.")
    WorkflowVersion = apps.get_model("workflows", "WorkflowVersion")  # noqa: N806
    if not WorkflowVersion.objects.using(schema_editor.connection.alias).filter(status="published").exists():
        WorkflowVersion.objects.using(schema_editor.connection.alias).create(
            number=1, status="published", policy=policy, published_at=timezone.now(),
            note="The default policy (fixtures/workflow.yaml)")


def shop_staff_drafts_versions(apps, schema_editor):
    from store.staff import shop_staff_group_sync

    shop_staff_group_sync(apps=apps, using=schema_editor.connection.alias,
                          permissions=("workflows.view_workflowversion", "workflows.add_workflowversion",
                                       "workflows.change_workflowversion"))


class Migration(migrations.Migration):

    dependencies = [
        ('workflows', '0008_review_rules_holds'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='WorkflowVersion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.PositiveIntegerField(blank=True, help_text='Given when it is published: 1, 2, 3…', null=True, unique=True)),
                ('status', models.CharField(choices=[('draft', 'Draft'), ('published', 'Published')], default='draft', max_length=10)),
                ('policy', models.JSONField(help_text="Every step's policy and the pipeline's (docs/workflow.md).")),
                ('note', models.CharField(blank=True, help_text='What this version changes, and why.', max_length=200)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('published_at', models.DateTimeField(blank=True, null=True)),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('published_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': [models.OrderBy(models.F('number'), descending=True, nulls_first=True), '-id'],
                'permissions': [('publish_workflowversion', 'Can publish workflow versions')],
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('number__isnull', True), ('published_at__isnull', True), ('status', 'draft')), models.Q(('number__isnull', False), ('published_at__isnull', False), ('status', 'published')), _connector='OR'), name='workflowversion_numbered_when_published')],
            },
        ),
        # Backwards: nothing to undo before the table itself is dropped (orders keep their numbers).
        migrations.RunPython(first_version, migrations.RunPython.noop),
        migrations.RunPython(shop_staff_drafts_versions, migrations.RunPython.noop),
    ]
