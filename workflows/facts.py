"""The facts about an order that review rules test, read in one query.

An order's own facts are the fields `Order.REVIEW_FACTS` names (field → label: the total,
the risk score…); the lines add theirs below. A fact an order does not have (a risk score
before screening) matches no rule.
"""
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce

from orders.models import Order

# What an order's lines add up to: name → (label, aggregate).
LINE_FACTS = {
    "item_count": ("Number of items", Coalesce(Sum("lines__quantity"), 0)),
    "line_count": ("Number of lines", Count("lines")),
}


def review_fact_choices() -> list[tuple[str, str]]:
    """(name, label) of every fact a rule may test: ReviewRule.field's choices."""
    return [*Order.REVIEW_FACTS.items(), *((name, label) for name, (label, _) in LINE_FACTS.items())]


def review_facts(orders: QuerySet[Order]) -> QuerySet:
    """The orders' facts as dicts ({"total": Decimal, "item_count": int, …}), one query."""
    return orders.annotate(**{name: aggregate for name, (_, aggregate) in LINE_FACTS.items()}).values(
        *Order.REVIEW_FACTS, *LINE_FACTS
    )
