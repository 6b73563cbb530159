"""The `money` template filter: `{{ order.total|money }}` → "$1,049.93" (store.money).

A builtin of the template engine (settings.TEMPLATES), so every template has it without `{% load %}`."""
from django import template

from store.money import money as money_format

register = template.Library()


@register.filter(is_safe=True)
def money(amount) -> str:
    """`amount` (Decimal, int or a string of one) as store.money formats it; None or "" → ""."""
    return money_format(amount)
