"""An opening row per existing product carrying its stock today, so each product's ledger sums to its stock."""
from django.db import migrations


def openings_write(apps, schema_editor):
    Product = apps.get_model("catalog", "Product")
    StockMovement = apps.get_model("catalog", "StockMovement")
    StockMovement.objects.bulk_create(
        StockMovement(product_id=pk, delta=stock, reason="opening")
        for pk, stock in Product.objects.filter(stock_movements__isnull=True).values_list("pk", "stock")
    )


def openings_remove(apps, schema_editor):
    apps.get_model("catalog", "StockMovement").objects.filter(reason="opening").delete()


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0003_stock_ledger_low_stock_threshold"),
    ]

    operations = [
        migrations.RunPython(openings_write, openings_remove),
    ]
