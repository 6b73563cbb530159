"""Statements compiled once per thread (store/prepared.py) read and write what the ORM does, on every thread."""
import threading

import pytest
from django.db import DatabaseError, IntegrityError, connection, connections, models, transaction
from django.test.utils import isolate_apps
from django.utils import timezone

from catalog import selectors
from catalog.models import Product
from providers.models import ProviderCall
from store import outage
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


postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's sessions and row locks")


def _in_thread(work) -> None:
    """`work()` on a thread of its own (its own connection), closed after."""
    def run():
        try:
            work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_after_the_server_ends_the_session_a_read_is_a_lost_connection_then_reads_on_a_new_one(catalog):
    read = PreparedRead(lambda pk: Product.objects.filter(pk=pk), "pk")
    product = catalog["prod-001"]
    assert read.one(pk=product.pk).name == product.name  # compiled, on this session
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [pid] = cursor.fetchone()

    def terminate():
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    _in_thread(terminate)

    with pytest.raises(DatabaseError) as lost:
        read.one(pk=product.pk)
    assert outage.connection_lost(lost.value)  # what the pipeline's retry and the 503 pages look for
    connection.close()
    assert read.one(pk=product.pk).name == product.name
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_nowait_and_skip_locked_are_kept(catalog):
    nowait = PreparedRead(lambda pk: Product.objects.select_for_update(nowait=True).filter(pk=pk), "pk")
    skip = PreparedRead(lambda pk: Product.objects.select_for_update(skip_locked=True).filter(pk=pk), "pk")
    product = catalog["prod-002"]
    seen = {}

    def other_transaction():
        with transaction.atomic():
            seen["skipped"] = len(skip.read(pk=product.pk))
        try:
            with transaction.atomic():
                nowait.read(pk=product.pk)
            seen["nowait"] = "read"
        except DatabaseError as error:
            seen["nowait"] = type(error.__cause__).__name__

    with transaction.atomic():
        Product.objects.select_for_update().get(pk=product.pk)
        _in_thread(other_transaction)
    assert seen == {"skipped": 0, "nowait": "LockNotAvailable"}
    with transaction.atomic():
        assert len(skip.read(pk=product.pk)) == 1 and nowait.one(pk=product.pk).pk == product.pk


@pytest.mark.django_db(transaction=True)
def test_threads_compiling_at_once_each_read_their_own_values(catalog):
    read = PreparedRead(lambda public_id: Product.objects.filter(public_id=public_id), "public_id")
    names = sorted(catalog)
    together = threading.Barrier(len(names))
    seen = {}

    def reader(public_id):
        try:
            together.wait()
            for _ in range(20):
                seen.setdefault(public_id, set()).add(read.one(public_id=public_id).public_id)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reader, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {name: {name} for name in names}


@isolate_apps("providers")
def test_an_insert_of_a_model_with_a_database_default_is_refused_as_it_is_declared():
    class Stamped(models.Model):  # a ledger a later migration gives a column the database fills
        note = models.CharField(max_length=10)
        kind = models.CharField(max_length=10, db_default="plain")

        class Meta:
            app_label = "providers"

    # The ORM writes DEFAULT for `kind`; a statement compiled once cannot: said at once, on every backend
    # (not a driver's error at the first INSERT, which call_record would log and drop the row for).
    with pytest.raises(ValueError, match="PreparedInsert"):
        PreparedInsert(Stamped)


def test_two_parameters_never_share_a_placeholder(catalog, monkeypatch):
    # Were both drawn alike, each value would land in the other's place too: the wrong rows, silently.
    drawn = iter([5, 5, 6, 7, 8])
    monkeypatch.setattr("store.prepared.secrets.randbelow", lambda below: next(drawn))
    read = PreparedRead(lambda pk, stock: Product.objects.filter(pk=pk, stock=stock), "pk", "stock")
    product = catalog["prod-004"]

    assert [p.pk for p in read.read(pk=product.pk, stock=product.stock).objects()] == [product.pk]
