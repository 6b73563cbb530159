"""Review rules: does a validated order need a person's approval before payment?"""
from orders.models import Order
from workflows.facts import review_facts
from workflows.models import ReviewRule
from workflows.selectors import review_rules_enabled


def review_rule_matching(order: Order, rules: list[ReviewRule] | None = None) -> ReviewRule | None:
    """The first enabled rule the order matches, or None."""
    rules = review_rules_enabled() if rules is None else rules
    if not rules:
        return None
    facts = review_facts(Order.objects.filter(pk=order.pk)).get()  # one query
    return next((rule for rule in rules if rule.matches(**facts)), None)
