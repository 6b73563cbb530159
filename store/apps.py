from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class StoreAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the store's site as the default one (store.admin_site); listed in
    INSTALLED_APPS in place of "django.contrib.admin"."""

    default = False  # not the config of the `store` app itself
    default_site = "store.admin_site.StoreAdminSite"


class StoreConfig(AppConfig):
    name = "store"
    verbose_name = "Workflow Store"

    def ready(self) -> None:
        from django.conf import settings

        from store import metrics

        # A worker cluster's metrics port, opened by the cluster's main process before it forks
        # the processes that run the tasks (store.metrics explains the multiprocess mode).
        if settings.WORKER_METRICS_PORT and metrics.is_qcluster_command():
            metrics.worker_metrics_start(settings.WORKER_METRICS_PORT, settings.WORKER_METRICS_ADDRESS)
