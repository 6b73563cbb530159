from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Fulfilment pipeline"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_migrate
        from django_q.signals import post_spawn

        from store.metrics import is_qcluster_command

        # receivers: connects the receivers of the order domain's signals; pipeline: registers its
        # steps with the providers (providers.steps).
        from workflows import executor, pipeline, receivers  # noqa: F401
        from workflows.policy import checks  # noqa: F401 - registers its system check
        from workflows.policy.selectors import policy_hooks_register
        from workflows.tasks import sweeper_schedule_sync

        # The order domain and the providers read the pipeline's policy through hooks of theirs.
        policy_hooks_register()

        # Each worker process runs pipeline runs on a pool of threads of its own.
        post_spawn.connect(executor.worker_started, dispatch_uid="workflows.executor.worker_started")

        # The sweeper's and the reconciliation's schedules follow their settings: `make run` and deploys
        # migrate first.
        post_migrate.connect(sweeper_schedule_sync, sender=self, dispatch_uid="workflows.sweeper_schedule_sync")

        # The worker cluster's main process watches the broker and queues what an outage left in the outbox.
        if settings.OUTBOX_RELAY_SECONDS > 0 and is_qcluster_command():
            from workflows import relay

            relay.relay_start(settings.OUTBOX_RELAY_SECONDS)
