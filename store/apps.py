from django.apps import AppConfig


class StoreConfig(AppConfig):
    name = "store"
    verbose_name = "Workflow Store"

    def ready(self) -> None:
        from django.conf import settings

        from store import database, metrics

        database.forget_on_fork()

        # A worker cluster's metrics port, opened by the cluster's main process before it forks
        # the processes that run the tasks (store.metrics explains the multiprocess mode).
        if settings.WORKER_METRICS_PORT and metrics.is_qcluster_command():
            metrics.worker_metrics_start(settings.WORKER_METRICS_PORT, settings.WORKER_METRICS_ADDRESS)
