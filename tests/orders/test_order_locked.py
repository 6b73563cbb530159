"""`order_locked`: the order as stored, its owner with it, its row locked until the transaction ends."""
import threading

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.db.transaction import TransactionManagementError

from orders.models import Order
from orders.services.transitions import order_locked
from tests.order_states import order_move
from workflows import executor
from workflows.pipeline import _advance, _order_fresh

postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql",
                                     reason="SQLite has no row locks (its writers take turns)")


def _stored(order: Order) -> dict:
    return {field.attname: (getattr(order, field.attname), type(getattr(order, field.attname)))
            for field in Order._meta.concrete_fields}


def test_it_reads_every_field_as_the_orm_does_and_the_owner_without_a_query(customer, place_order,
                                                                            django_assert_num_queries):
    order = order_move(place_order(customer, {"prod-001": 2, "prod-003": 1}), "shipped")  # dates, money, a tracking number
    with transaction.atomic():
        locked = order_locked(order.pk)
        assert _stored(locked) == _stored(Order.objects.get(pk=order.pk))
        with django_assert_num_queries(0):
            assert (locked.owner.pk, locked.owner.email) == (customer.pk, customer.email)
    assert locked.state == "shipped" and locked.tracking_number


def test_an_unknown_order_is_does_not_exist(db):
    with transaction.atomic(), pytest.raises(Order.DoesNotExist):
        order_locked(999_999)


@postgresql_only
@pytest.mark.django_db(transaction=True)  # the test itself outside a transaction
def test_outside_a_transaction_postgresql_refuses_it_as_the_orm_does(customer, place_order):
    order = place_order(customer)
    with transaction.atomic():
        order_locked(order.pk)  # the statement is compiled; it is refused outside all the same
    with pytest.raises(TransactionManagementError):
        order_locked(order.pk)
    with pytest.raises(TransactionManagementError):
        Order.objects.select_for_update().get(pk=order.pk)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's case")
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_sqlite_reads_it_as_the_orm_does(customer, place_order):
    order = place_order(customer)
    with transaction.atomic():
        order_locked(order.pk)
    assert _stored(order_locked(order.pk)) == _stored(Order.objects.select_for_update().get(pk=order.pk))


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_another_transaction_cannot_lock_the_order_until_the_first_ends(customer, place_order, other_customer):
    order = place_order(customer)
    other_order = place_order(other_customer)
    outcomes: dict[str, str] = {}

    def try_lock(order_id: int, name: str) -> None:
        try:
            with transaction.atomic():
                Order.objects.select_for_update(nowait=True).get(pk=order_id)
            outcomes[name] = "locked"
        except DatabaseError:
            outcomes[name] = "busy"
        finally:
            connections.close_all()

    def in_thread(order_id: int, name: str) -> None:
        thread = threading.Thread(target=try_lock, args=(order_id, name))
        thread.start()
        thread.join()

    with transaction.atomic():
        order_locked(order.pk)
        in_thread(order.pk, "same")
        in_thread(other_order.pk, "other")
    in_thread(order.pk, "after")

    assert outcomes == {"same": "busy", "other": "locked", "after": "locked"}


def _session_end() -> None:
    """The server ends this thread's session (a restart, an administrator's pg_terminate_backend)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [pid] = cursor.fetchone()

    def terminate():
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        finally:
            connections.close_all()

    thread = threading.Thread(target=terminate)
    thread.start()
    thread.join()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_run_whose_session_the_server_ended_is_tried_again_on_a_new_one(customer, place_order, settings):
    settings.PIPELINE = {**settings.PIPELINE, "CONNECTION_RETRY": (2, 0, 0)}
    order = place_order(customer)
    assert _order_fresh(order.pk).pk == order.pk  # compiled on this session
    _session_end()

    assert executor.advance_retrying(order.pk, _order_fresh).pk == order.pk
    _session_end()
    assert executor.advance_retrying(order.pk, lambda pk: _in_transaction(order_locked, pk)).pk == order.pk


def _in_transaction(read, pk):
    with transaction.atomic():
        return read(pk)


def test_a_run_of_an_order_deleted_meanwhile_ends_as_before(db):
    assert _order_fresh(999_999) is None and _advance(999_999) is None
