"""Statements compiled once per thread (store/prepared.py) read and write what the ORM does, on every thread."""
import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from catalog import selectors
from catalog.models import Product
from providers.models import ProviderCall
from store.prepared import PreparedInsert, PreparedRead


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


def test_one_is_the_instance_or_the_models_errors_as_get(catalog):
    by_pk = PreparedRead(lambda pk: Product.objects.select_related("category").filter(pk=pk), "pk")
    by_stock = PreparedRead(lambda stock: Product.objects.filter(stock=stock), "stock")
    product = catalog["prod-002"]

    assert shown([by_pk.one(pk=product.pk)]) == shown([Product.objects.select_related("category").get(pk=product.pk)])
    with pytest.raises(Product.DoesNotExist):
        by_pk.one(pk=999_999)
    Product.objects.update(stock=7)
    with pytest.raises(Product.MultipleObjectsReturned):
        by_stock.one(stock=7)


LEDGER = dict(order_id=7, provider="payment", operation="charge", step="payment", idempotency_key="order-7-charge-0",
              attempt=2, outcome="ok", reason="", latency_ms=12, request_id="req-1")


def stored(call: ProviderCall) -> dict:
    return {field.attname: getattr(call, field.attname) for field in ProviderCall._meta.concrete_fields
            if field.attname not in ("id", "created_at")}


@pytest.mark.django_db
def test_an_insert_writes_the_row_the_orm_writes_made_now():
    before = timezone.now()
    PreparedInsert(ProviderCall).insert(**LEDGER)
    after = timezone.now()
    ProviderCall(**LEDGER).save(force_insert=True)

    prepared, orm = ProviderCall.objects.order_by("id")
    assert stored(prepared) == stored(orm) == LEDGER
    assert before <= prepared.created_at <= after


@pytest.mark.django_db
def test_an_insert_the_database_refuses_in_a_savepoint_keeps_the_callers_work():
    insert = PreparedInsert(ProviderCall)
    with transaction.atomic():
        insert.insert(**LEDGER)  # the caller's work
        with pytest.raises(IntegrityError), transaction.atomic():
            insert.insert(**{**LEDGER, "attempt": -1})  # breaks the table's check constraint
        insert.insert(**{**LEDGER, "attempt": 3})  # the transaction goes on

    assert list(ProviderCall.objects.order_by("id").values_list("attempt", flat=True)) == [2, 3]
