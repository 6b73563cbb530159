"""200 orders with the seed's simulator rates: outcome shares near the rates, all terminal."""
from collections import Counter

import pytest

from orders.models import Order
from orders.states import TERMINAL_STATES
from providers.models import GatewayCall

SEED_RATES = {"INVENTORY_AVAILABLE_RATE": 0.90, "PAYMENT_APPROVE_RATE": 0.85, "PAYMENT_DECLINE_RATE": 0.10,
              "SHIPPING_SUCCESS_RATE": 0.95}


def share(gateway: str, outcome: str) -> float:
    calls = GatewayCall.objects.filter(gateway=gateway).exclude(operation="refund")
    return calls.filter(outcome=outcome).count() / calls.count()


# reset_sequences: order ids, and so the seeded outcomes, are the same on every run and database.
@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_default_rates_over_200_orders(settings, customer, place_order):
    settings.SIMULATOR = {**settings.SIMULATOR, **SEED_RATES}
    settings.PIPELINE_TASKS_SYNC = True
    for _ in range(200):
        place_order(customer, {"prod-008": 1}, card=None)

    states = Counter(Order.objects.values_list("state", flat=True))
    assert sum(states.values()) == 200
    assert set(states) <= TERMINAL_STATES, states
    assert abs(share("inventory", "failed") - 0.10) <= 0.05
    assert abs(share("payment", "failed") - 0.10) <= 0.05  # declines
    assert abs(share("payment", "timeout") - 0.05) <= 0.04
    assert abs(share("shipping", "failed") - 0.05) <= 0.04
    assert states["delivered"] > states["failed"] > 0
