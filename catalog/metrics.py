"""`store_products_low_stock`: active products at or under their low-stock threshold (each
product's own, else STORE_LOW_STOCK_THRESHOLD), read from the database at scrape time."""
import logging

from django.db import DatabaseError
from prometheus_client.core import GaugeMetricFamily

from catalog.models import Product

logger = logging.getLogger("catalog.metrics")


class LowStockCollector:
    name = "store_products_low_stock"
    documentation = "Active products at or under their low-stock threshold."

    def describe(self):
        return [GaugeMetricFamily(self.name, self.documentation)]

    def collect(self):
        try:
            count = Product.objects.active().low_stock().count()
        except DatabaseError as exc:
            logger.warning("%s left out of the scrape: %s", self.name, exc.__class__.__name__)
            return
        yield GaugeMetricFamily(self.name, self.documentation, value=count)


products_low_stock = LowStockCollector()
