"""POST /api/shipping/rates and the order's shipping in /api/orders."""
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from catalog.models import Product
from orders.models import Order
from providers.models import ShippingRate
from tests.conftest import SHIPPING

FAR = {"address": "1 Harbor Way", "city": "Anchorage", "state": "AK", "zip": "99501"}


pytestmark = pytest.mark.usefixtures("shop_free_shipping_threshold", "outages_forgotten")


@pytest.fixture
def light(catalog):
    """prod-008 ($9.99) weighs 400 g."""
    Product.objects.filter(public_id="prod-008").update(weight_grams=400)


def rates(client, items=None, shipping=None):
    return client.post("/api/shipping/rates", {"items": items or [{"productId": "prod-008", "quantity": 1}],
                                               "shipping": shipping or dict(SHIPPING)}, format="json")


def order(client, *, rate=None, items=None, shipping=None, **extra):
    shipping = dict(shipping or SHIPPING, **({"rate": rate} if rate is not None else {}))
    return client.post("/api/orders", {"items": items or [{"productId": "prod-008", "quantity": 1}],
                                       "shipping": shipping, "payment": {"card": "4242 4242 4242 4242"}, **extra},
                       format="json")


def test_the_rates_are_the_options_with_their_prices_and_dates(customer_api, light):
    response = rates(customer_api)
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert (answer["degraded"], answer["message"]) == (False, "")
    standard, express = answer["options"]
    assert set(standard) == {"id", "service", "label", "price", "listPrice", "earliest", "latest", "available",
                             "note"}
    assert (standard["service"], standard["price"], standard["listPrice"], standard["available"]) == (
        "standard", 10.49, 10.49, True)
    assert (express["service"], express["label"], express["price"]) == ("express", "Express", 28.49)
    assert standard["earliest"] <= standard["latest"] and standard["id"]
    assert standard["note"] == "Free on orders of $100.00 or more"


def test_rates_need_a_token_and_good_input(api_client, customer_api, light):
    assert rates(api_client).status_code == 401
    for items, shipping, field in [([], None, "items"), ([{"productId": "prod-008", "quantity": 0}], None, "items"),
                                   (None, {**SHIPPING, "zip": "ABCDE"}, "shipping")]:
        response = customer_api.post("/api/shipping/rates", {"items": items if items is not None else [
            {"productId": "prod-008", "quantity": 1}], "shipping": shipping or dict(SHIPPING)}, format="json")
        assert response.status_code == 400 and field in response.json()["fields"]


def test_the_chosen_option_is_charged_and_the_order_shows_the_split(customer_api, light):
    express = rates(customer_api, shipping=FAR).json()["options"][1]
    response = order(customer_api, rate=express["id"], shipping=FAR)
    assert response.status_code == 201, response.json()
    placed = response.json()
    assert (placed["subtotal"], placed["shippingService"], placed["shippingCost"], placed["total"]) == (
        9.99, "express", 52.99, 62.98)
    assert (placed["deliveryEarliest"], placed["deliveryLatest"]) == (express["earliest"], express["latest"])
    assert "rate" not in placed["shipping"]


def test_a_client_sending_no_rate_ships_standard_at_the_rate_cards_price(customer_api, light):
    placed = order(customer_api).json()
    assert (placed["shippingService"], placed["shippingCost"], placed["total"]) == ("standard", 10.49, 20.48)
    assert order(customer_api, expectedTotal="20.48").status_code == 201
    stale = order(customer_api, expectedTotal="9.99")
    assert (stale.status_code, stale.json()["code"]) == (409, "price_changed")


def test_a_changed_rate_is_a_409_saying_what_changed(customer_api, light):
    standard = rates(customer_api).json()["options"][0]
    ShippingRate.objects.filter(zone__is_fallback=True, service="standard").update(cost_per_kg=Decimal("2.50"))
    response = order(customer_api, rate=standard["id"])
    assert response.status_code == 409
    assert response.json()["code"] == "shipping_changed"
    assert response.json()["error"] == "Standard shipping now costs $11.49 (was $10.49)."
    assert not Order.objects.exists()


def test_another_carts_quote_is_refused(customer_api, light):
    standard = rates(customer_api).json()["options"][0]
    response = order(customer_api, rate=standard["id"], items=[{"productId": "prod-008", "quantity": 3}])
    assert (response.status_code, response.json()["code"]) == (409, "shipping_changed")
    assert "cart changed" in response.json()["error"]


def test_in_a_carrier_outage_the_api_still_places_at_the_rate_cards_standard(customer_api, light):
    call_command("provider_outage", "rates", "--seconds", "60", "--mode", "error", stdout=StringIO())
    answer = rates(customer_api).json()
    assert answer["degraded"] and "express shipping is unavailable for now" in answer["message"]
    standard, express = answer["options"]
    assert (express["available"], express["id"], express["note"]) == (False, "", "Unavailable for now")
    placed = order(customer_api, rate=standard["id"])
    assert placed.status_code == 201, placed.json()
    assert (placed.json()["shippingService"], placed.json()["shippingCost"]) == ("standard", 10.49)


def test_the_order_list_carries_the_split(customer_api, light):
    order(customer_api)
    listed = customer_api.get("/api/orders").json()[0]
    assert listed["total"] == listed["subtotal"] + listed["shippingCost"]


def test_express_quoted_before_a_rates_outage_is_a_503_to_retry(customer_api, light):
    express = rates(customer_api).json()["options"][1]
    call_command("provider_outage", "rates", "--seconds", "60", "--mode", "error", stdout=StringIO())

    placed = order(customer_api, rate=express["id"])

    assert placed.status_code == 503
    assert placed.json()["code"] == "shipping_unavailable"
    assert int(placed["Retry-After"]) > 0
    assert not Order.objects.exists()


def test_rates_refuse_unknown_and_withdrawn_products_as_an_order_does(customer_api, light):
    Product.objects.filter(public_id="prod-007").update(is_active=False)
    items = [{"productId": "nope", "quantity": 1}, {"productId": "prod-007", "quantity": 1}]

    quoted, placed = rates(customer_api, items=items), order(customer_api, items=items)

    assert quoted.status_code == placed.status_code == 400
    assert quoted.json() == placed.json()
    assert quoted.json()["error"].startswith("No longer sold: nope, ")


def test_shipping_beyond_what_an_order_holds_is_a_400(customer_api, light, settings):
    settings.FREE_SHIPPING_THRESHOLD = ""
    ShippingRate.objects.update(base_cost=Decimal("999999.99"), cost_per_kg=Decimal("999999.99"))
    Product.objects.filter(public_id="prod-008").update(weight_grams=30000)
    items = [{"productId": "prod-008", "quantity": 99}]

    for answer in (rates(customer_api, items=items), order(customer_api, items=items)):
        assert answer.status_code == 400
        assert "more than one order can carry ($99,999,999.99)" in answer.json()["error"]
