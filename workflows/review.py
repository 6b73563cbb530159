"""Review rules: does a validated order need a person's approval before payment?"""
from django.db.models import Count, Sum

from orders.models import Order
from workflows.models import ReviewRule
from workflows.selectors import review_rules_enabled


def _facts(order: Order) -> dict:
    aggregate = order.lines.aggregate(items=Sum("quantity"), lines=Count("id"))  # one query
    return {"total": order.total, "item_count": aggregate["items"] or 0, "line_count": aggregate["lines"]}


def review_rule_matching(order: Order, rules: list[ReviewRule] | None = None) -> ReviewRule | None:
    """The first enabled rule the order matches, or None."""
    rules = review_rules_enabled() if rules is None else rules
    if not rules:
        return None
    facts = _facts(order)
    return next((rule for rule in rules if rule.matches(**facts)), None)
