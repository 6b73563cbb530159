"""Reads for the pipeline's data: review rules."""
from dataclasses import dataclass

from orders.models import Order
from workflows.facts import review_facts
from workflows.models import ReviewRule


def review_rules_enabled() -> list[ReviewRule]:
    return list(ReviewRule.objects.filter(enabled=True))


@dataclass(frozen=True)
class RuleBacktest:
    """How many of the `considered` most recent orders a review rule would have held."""

    held: int
    considered: int


def review_rule_backtest(*, rule: ReviewRule, last: int = 100) -> RuleBacktest:
    """Run `rule` (enabled or not) on the facts of the last `last` orders: one query."""
    facts = list(review_facts(Order.objects.order_by("-created_at", "-id"))[:last])
    return RuleBacktest(held=sum(1 for fact in facts if rule.matches(**fact)), considered=len(facts))
