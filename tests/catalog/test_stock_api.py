"""PATCH /api/products/{id} sets stock only from the number the client read: reservations are never overwritten."""
import threading

import pytest
from auditlog.models import LogEntry as AuditEntry
from django.db import connections

from catalog.models import Product
from orders.services import LineRequest, ShippingAddress, order_place
from orders.stock import InsufficientStock
from tests.conftest import SHIPPING

URL = "/api/products/prod-001"


def stock() -> int:
    return Product.objects.get(public_id="prod-001").stock


def test_stock_is_set_from_the_number_read(staff_api, staff_user, catalog):
    read = staff_api.get(URL).json()["stock"]

    response = staff_api.patch(URL, {"stock": 60, "expectedStock": read}, format="json")

    assert response.status_code == 200
    assert response.json()["stock"] == 60
    assert stock() == 60
    entry = AuditEntry.objects.filter(additional_data__action="stock_set").get()
    assert (entry.actor_email, entry.changes_dict) == (staff_user.email, {"stock": ["50", "60"]})


def test_the_same_patch_sent_twice_sets_the_stock_once(staff_api, catalog):
    first = staff_api.patch(URL, {"stock": 60, "expectedStock": 50}, format="json")
    second = staff_api.patch(URL, {"stock": 60, "expectedStock": 50}, format="json")

    assert (first.status_code, second.status_code) == (200, 200)
    assert stock() == 60
    assert AuditEntry.objects.filter(additional_data__action="stock_set").count() == 1


def test_a_stale_expected_stock_is_409_naming_todays_stock_and_writes_nothing(staff_api, customer, catalog,
                                                                             place_order):
    read = staff_api.get(URL).json()["stock"]  # 50
    place_order(customer, {"prod-001": 3})  # meanwhile an order reserves 3: 47

    response = staff_api.patch(URL, {"stock": 60, "expectedStock": read, "price": "1.00"}, format="json")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "stock_changed"
    assert "from 50 to 47" in body["error"]
    assert body["fields"] == {"expectedStock": ["The stock is 47 now."]}
    product = Product.objects.get(public_id="prod-001")
    assert (product.stock, str(product.price)) == (47, "149.99")  # the reservation kept, the price not written
    assert not AuditEntry.objects.filter(additional_data__action="stock_set").exists()
    # From the number as it is now, the edit goes through.
    assert staff_api.patch(URL, {"stock": 60, "expectedStock": 47}, format="json").status_code == 200
    assert stock() == 60


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"stock": 60}, "expectedStock"),
        ({"expectedStock": 50}, "stock"),
        ({"stock": 60, "expectedStock": "\uff15\uff10"}, "expectedStock"),  # full-width "５０"
        ({"stock": 60, "expectedStock": -1}, "expectedStock"),
    ],
)
def test_stock_and_expected_stock_go_together_as_plain_numbers(staff_api, catalog, change, field):
    response = staff_api.patch(URL, change, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {field}
    assert stock() == 50


def test_other_fields_change_without_touching_the_stock(staff_api, catalog):
    response = staff_api.patch(URL, {"name": "Keyboard"}, format="json")

    assert response.status_code == 200
    assert (response.json()["name"], stock()) == ("Keyboard", 50)


@pytest.mark.django_db(transaction=True)
def test_restocking_through_the_api_while_orders_are_placed_keeps_every_reservation(staff_api, customer, catalog,
                                                                                      settings):
    """A client adding 100 units (read, PATCH from what it read, again on 409) races 20 checkouts."""
    settings.PIPELINE_TASKS_SYNC = False  # placement only: no pipeline in this test
    Product.objects.filter(public_id="prod-001").update(stock=30)
    barrier = threading.Barrier(21)
    placed: list[int] = []
    conflicts: list[int] = []
    lock = threading.Lock()

    def checkout():
        try:
            barrier.wait()
            order_place(user=customer, lines=[LineRequest("prod-001", 1)], shipping=ShippingAddress(**SHIPPING))
            with lock:
                placed.append(1)
        except InsufficientStock:
            pass
        finally:
            connections.close_all()

    def restock():
        try:
            barrier.wait()
            for _ in range(50):
                read = staff_api.get(URL).json()["stock"]
                response = staff_api.patch(URL, {"stock": read + 100, "expectedStock": read}, format="json")
                if response.status_code == 200:
                    return
                assert response.json()["code"] == "stock_changed"
                conflicts.append(read)
            raise AssertionError("the restock never went through")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=checkout) for _ in range(20)] + [threading.Thread(target=restock)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(placed) == 20  # 30 in stock: every checkout gets its unit
    assert stock() == 30 + 100 - 20  # no reservation overwritten, the restock counted once


@pytest.mark.django_db
def test_the_schema_documents_the_expected_stock_and_the_409(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    patch = schema["paths"]["/api/products/{public_id}"]["patch"]
    ref = patch["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert {"stock", "expectedStock"} <= set(schema["components"]["schemas"][ref]["properties"])
    assert "stock_changed" in patch["responses"]["409"]["description"]


def test_a_stale_expected_stock_is_a_conflict_even_when_orders_brought_the_stock_to_the_wanted_number(
    staff_api, customer, catalog, place_order
):
    """Staff read 50 and add a delivery of 3 (53); meanwhile one order takes 3, other units come
    back (50) and the order is cancelled: 53 already. Accepting would lose the delivery."""
    from orders.services import order_cancel

    read = staff_api.get(URL).json()["stock"]
    taken = place_order(customer, {"prod-001": 3})
    Product.objects.filter(public_id="prod-001").update(stock=50)  # another order's units came back
    order_cancel(order=taken, actor=customer)
    assert stock() == read + 3

    response = staff_api.patch(URL, {"stock": read + 3, "expectedStock": read}, format="json")

    assert response.status_code == 409 and response.json()["code"] == "stock_changed"
    assert stock() == 53
    assert not AuditEntry.objects.filter(additional_data__action="stock_set").exists()
