"""Reads compiled once per thread (store/prepared.py) give what the ORM gives, on every thread."""
import threading

import pytest
from django.db import connection

from catalog import selectors
from catalog.models import Product
from store.prepared import PreparedRead


def shown(products: list[Product]) -> list[tuple]:
    return [(p.pk, p.public_id, p.name, p.price, p.stock, p.is_active, p.created_at, p.updated_at, p.photo.name,
             p.category.pk, p.category.name, p.category.slug) for p in products]


def test_the_rows_make_the_products_the_orm_makes(catalog):
    assert shown(selectors.product_list_rows().objects()) == shown(selectors.product_list())
    assert shown(selectors.product_rows("prod-002").objects()) == [shown([selectors.product_get("prod-002")])[0]]


def test_each_read_sees_the_rows_as_they_are_now(catalog):
    before = selectors.product_list_rows()

    Product.objects.filter(public_id="prod-001").update(stock=0)

    after = selectors.product_list_rows()
    assert after.digest() != before.digest()
    assert next(p for p in after.objects() if p.public_id == "prod-001").stock == 0


@pytest.mark.django_db(transaction=True)
def test_another_thread_reads_on_its_own_connection(catalog):
    read = PreparedRead(lambda public_id: Product.objects.filter(public_id=public_id), "public_id")
    here = [p.name for p in read.read(public_id="prod-003").objects()]
    there = []

    def in_thread():
        try:
            there.append([p.name for p in read.read(public_id="prod-003").objects()])
        finally:
            connection.close()

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert there == [here] and here == [catalog["prod-003"].name]


def test_a_parameter_the_lookup_rewrites_is_refused(catalog):
    read = PreparedRead(lambda words: Product.objects.filter(name__icontains=words), "words")

    with pytest.raises(ValueError, match="exact lookup"):
        read.read(words="key")
