"""Concurrent checkouts never oversell."""
import threading

import pytest
from django.db import connections

from catalog.models import Product
from orders.models import Order, OrderLine
from orders.services import LineRequest, ShippingAddress, order_place, order_transition
from orders.services.reorder import AlreadyRetried
from orders.stock import InsufficientStock
from tests.conftest import SHIPPING
from tests.order_states import order_move


@pytest.mark.django_db(transaction=True)
def test_fifty_threads_reserve_at_most_the_stock(customer, catalog, settings):
    """On SQLite the writes serialize (IMMEDIATE transactions); .ci/run repeats it on PostgreSQL."""
    settings.PIPELINE_TASKS_SYNC = False  # placement only: no pipeline in this test
    Product.objects.filter(public_id="prod-001").update(stock=10)
    barrier = threading.Barrier(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def checkout():
        try:
            barrier.wait()
            order_place(user=customer, lines=[LineRequest("prod-001", 1)], shipping=ShippingAddress(**SHIPPING))
            result = "placed"
        except InsufficientStock:
            result = "409"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=checkout) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("placed") == 10
    assert outcomes.count("409") == 40
    assert Product.objects.get(public_id="prod-001").stock == 0
    assert sum(OrderLine.objects.values_list("quantity", flat=True)) == 10
    assert Order.objects.count() == 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_checkouts_retrying_one_order_place_it_once(customer, place_order, settings):
    """Two windows or devices that both pressed Try again: one order replaces the failed one."""
    settings.PIPELINE_TASKS_SYNC = False
    failed = order_transition(order_id=order_move(place_order(customer), "payment_failed").pk, name="abandon_payment")
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def checkout(key: str):
        try:
            barrier.wait()
            order_place(user=customer, lines=[LineRequest("prod-002", 1)], shipping=ShippingAddress(**SHIPPING),
                        idempotency_key=key, retry_of=failed)
            result = "placed"
        except AlreadyRetried:
            result = "409"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=checkout, args=(f"window-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["409"] * 7 + ["placed"]
    assert Order.objects.filter(retry_of=failed).count() == 1
