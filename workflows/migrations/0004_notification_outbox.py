"""Notification e-mails go out from the worker (the row is their outbox), and tasks the broker
refused after a commit wait in OutboxTask. Notifications from before were e-mailed when they
were written, so they count as sent."""
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def mark_earlier_sent(apps, schema_editor):
    Notification = apps.get_model("workflows", "Notification")
    Notification.objects.filter(email_sent_at=None).update(email_sent_at=models.F("created_at"), email_attempts=1)


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0004_refund_idempotency_key'),
        ('workflows', '0003_delete_spent_pipeline_schedules'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='OutboxTask',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('func', models.CharField(help_text='Dotted path of the task function.', max_length=200)),
                ('args', models.JSONField(default=list)),
                ('task_name', models.CharField(blank=True, max_length=200)),
                ('group', models.CharField(blank=True, max_length=100)),
                ('error', models.CharField(blank=True, help_text='Why the broker refused it last.', max_length=500)),
                ('attempts', models.PositiveIntegerField(default=1)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['id'],
            },
        ),
        migrations.AddField(
            model_name='notification',
            name='email_attempts',
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='notification',
            name='email_claimed_until',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='notification',
            name='email_sent_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='notification',
            index=models.Index(condition=models.Q(('email_sent_at__isnull', True)), fields=['created_at'], name='notification_email_unsent'),
        ),
        migrations.RunPython(mark_earlier_sent, migrations.RunPython.noop),
    ]
