from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Fulfilment pipeline"

    def ready(self) -> None:
        from django.conf import settings

        from store.metrics import is_qcluster_command

        # The worker cluster's main process watches the broker and queues what an outage left in the outbox.
        if settings.OUTBOX_RELAY_SECONDS > 0 and is_qcluster_command():
            from workflows import relay

            relay.relay_start(settings.OUTBOX_RELAY_SECONDS)
