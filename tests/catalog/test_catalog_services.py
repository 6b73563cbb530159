"""catalog.selectors and catalog.services: ids, partial updates, withdrawal."""
from decimal import Decimal

import pytest

from catalog.models import Product
from catalog.selectors import product_get, product_next_public_id
from catalog.services import product_create, product_deactivate, product_update
from store.errors import NotFound, ValidationFailed


@pytest.mark.django_db
def test_the_first_public_id_is_prod_001():
    assert product_next_public_id() == "prod-001"


def test_the_next_public_id_follows_the_highest_number(catalog):
    product_create(name="Odd One", price=Decimal("1.00"), category="software", public_id="prod-120")
    product_create(name="Custom Id", price=Decimal("1.00"), category="software", public_id="custom")

    assert product_next_public_id() == "prod-121"


def test_create_takes_the_category_image_unless_given(catalog):
    product = product_create(name="Mat", price=Decimal("5.00"), category="Accessories")
    explicit = product_create(name="Box", price=Decimal("5.00"), category="Accessories", image="default")

    assert (product.image_path, explicit.image_path) == ("img/categories/accessories.svg", "img/categories/default.svg")


def test_update_writes_only_the_given_fields(catalog):
    stale = Product.objects.get(public_id="prod-001")
    # An order reserves stock meanwhile (a conditional UPDATE, as orders do).
    Product.objects.filter(pk=stale.pk).update(stock=47)

    product_update(product=stale, price=Decimal("139.99"))

    fresh = Product.objects.get(pk=stale.pk)
    assert (fresh.price, fresh.stock) == (Decimal("139.99"), 47)


def test_update_refuses_an_unknown_category_and_changes_nothing(catalog):
    product = Product.objects.get(public_id="prod-001")

    with pytest.raises(ValidationFailed):
        product_update(product=product, category="Gardening", price=Decimal("1.00"))

    assert Product.objects.get(pk=product.pk).price == Decimal("149.99")


def test_a_withdrawn_product_is_found_only_when_asked(catalog):
    product_deactivate(product=catalog["prod-004"])

    with pytest.raises(NotFound):
        product_get("prod-004")
    assert product_get("prod-004", include_inactive=True).state == "inactive"
