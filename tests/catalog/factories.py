"""Catalog test data beyond the 8 seed products (a module, not a conftest: see tests/store's `from conftest import`)."""
from decimal import Decimal

from catalog.models import Category, Product


def products_add(n: int) -> list[Product]:
    """n more active products after the existing ones, spread over the existing categories."""
    categories = list(Category.objects.all())
    start = Product.objects.count() + 1
    return Product.objects.bulk_create(
        Product(
            public_id=f"prod-{number:03d}",
            name=f"Extra Product {number}",
            description="More of the same.",
            price=Decimal("10.00") + number,
            stock=number,
            category=categories[number % len(categories)],
            image=categories[number % len(categories)].image,
        )
        for number in range(start, start + n)
    )
