"""Concurrent checkouts never oversell."""
import threading

import pytest
from django.db import connections

from catalog.models import Product
from orders.models import Order, OrderLine
from orders.services import LineRequest, ShippingAddress, order_place
from orders.stock import InsufficientStock
from tests.conftest import SHIPPING


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
