"""Amounts as people read them: "$1,049.93".

The shop keeps one currency: amounts are `Decimal`s of US dollars with 2 places, and
`settings.CURRENCY_SYMBOL` is the sign shown before them. Pages, e-mails, in-app notifications,
messages and the admin show every amount through `money` (in templates the `money` filter,
store.templatetags.money, a builtin of the template engine: `{{ order.total|money }}`). The API
and the CSV export keep the machine form ("1049.93"), which programs and spreadsheets read.
"""
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.utils import numberformat

CENT = Decimal("0.01")


def money(amount: Decimal | int | str | None) -> str:
    """`amount` in the shop's currency: the symbol, the whole units grouped by thousands with ",",
    "." and two places, ASCII digits whatever the language ("$1,049.93"; "-$5.00"; "$0.00").

    `amount`: a Decimal, an int, or a string of one (an order event's detail keeps amounts as
    strings); rounded half up to the cent. None or "" (no amount) gives "". Raises ValueError for
    a string that is no number, or for infinity and NaN."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, TypeError) as error:
        raise ValueError(f"not an amount: {amount!r}") from error
    if value.is_nan():
        raise ValueError(f"not an amount: {amount!r}")
    digits = numberformat.format(abs(value), decimal_sep=".", decimal_pos=2, grouping=3, thousand_sep=",",
                                 force_grouping=True, use_l10n=False)
    sign = "-" if value < 0 else ""
    return f"{sign}{settings.CURRENCY_SYMBOL}{digits}"
