from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    label = "providers"
    verbose_name = "Providers"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from providers import checks  # noqa: F401 - registers the system check

        post_migrate.connect(rate_card_ensure, sender=self, dispatch_uid="providers.rate_card_ensure")


def rate_card_ensure(*, using: str = "default", **kwargs) -> None:
    """After every migrate (post_migrate, as `flush` sends it too): a shop without any shipping zone
    gets the seed rate card (fixtures/shipping.json), so shipping always has a price. A database
    migrated to a point before the rate card existed is left as it is."""
    from django.db import connections

    from providers.models import ShippingZone
    from providers.rates import rate_card_seed

    if ShippingZone._meta.db_table not in connections[using].introspection.table_names():
        return
    if not ShippingZone.objects.using(using).exists():
        rate_card_seed()
