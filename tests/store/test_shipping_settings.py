"""Shipping settings from the environment: a value that makes no sense stops startup."""
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from store.env import env_money


@pytest.mark.parametrize("value", ["abc", "-1", "NaN", "Infinity"])
def test_a_free_shipping_threshold_that_is_no_amount_stops_startup(monkeypatch, value):
    monkeypatch.setenv("FREE_SHIPPING_THRESHOLD", value)
    with pytest.raises(ImproperlyConfigured, match="FREE_SHIPPING_THRESHOLD"):
        env_money("FREE_SHIPPING_THRESHOLD", "100.00")


@pytest.mark.parametrize(("value", "amount"), [("", None), (" 49.5 ", Decimal("49.50")), ("0", Decimal("0.00"))])
def test_a_free_shipping_threshold_is_dollars_or_off(monkeypatch, value, amount):
    monkeypatch.setenv("FREE_SHIPPING_THRESHOLD", value)
    assert env_money("FREE_SHIPPING_THRESHOLD", "100.00") == amount
