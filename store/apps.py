from django.apps import AppConfig


class StoreConfig(AppConfig):
    name = "store"
    verbose_name = "Workflow Store"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_migrate

        from store import database, fragments, metrics, staff

        database.forget_on_fork()

        # Before the first request: the code's digest is part of every fragment's key.
        fragments.code_digest()

        # The staff roles' groups follow their table (store.staff.ROLES) after every migrate.
        post_migrate.connect(staff.roles_after_migrate, dispatch_uid="store.staff.roles_sync")

        # A worker cluster's metrics port, opened by the cluster's main process before it forks
        # the processes that run the tasks (store.metrics explains the multiprocess mode).
        if settings.WORKER_METRICS_PORT and metrics.is_qcluster_command():
            metrics.worker_metrics_start(settings.WORKER_METRICS_PORT, settings.WORKER_METRICS_ADDRESS)
