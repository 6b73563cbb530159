"""How amounts read wherever people see them (store.money and its template filter)."""
from decimal import Decimal

import pytest
from django.template import engines
from django.utils import translation

from store.money import money


@pytest.mark.parametrize(("amount", "shown"), [
    (Decimal("1049.93"), "$1,049.93"),
    (Decimal("9999999999.99"), "$9,999,999,999.99"),
    (Decimal("0"), "$0.00"),
    (Decimal("0.005"), "$0.01"),  # half up to the cent
    (Decimal("12.3"), "$12.30"),
    (Decimal("-5"), "-$5.00"),
    (Decimal("-0.001"), "$0.00"),  # no "negative zero"
    (1000, "$1,000.00"),
    ("1049.93", "$1,049.93"),  # an event's detail keeps amounts as strings
    (None, ""),
    ("", ""),
])
def test_money_reads_with_the_currency_thousands_and_cents(amount, shown):
    assert money(amount) == shown


@pytest.mark.parametrize("amount", ["abc", "NaN", "Infinity", [1]])
def test_money_refuses_what_is_no_amount(amount):
    with pytest.raises(ValueError):
        money(amount)


def test_the_currency_symbol_comes_from_the_settings(settings):
    settings.CURRENCY_SYMBOL = "€"
    assert money(Decimal("1049.93")) == "€1,049.93"


def test_every_template_has_the_filter_and_it_keeps_ascii_digits_in_any_language():
    template = engines["django"].from_string("{{ amount|money }}")  # no {% load %}: a builtin
    with translation.override("de"):  # German would write 1.049,93
        assert template.render({"amount": Decimal("1049.93")}) == "$1,049.93"
    with translation.override("ar"):
        assert template.render({"amount": Decimal("1049.93")}).isascii()
