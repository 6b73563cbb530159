"""Review rules as tests make them: one comparison, checked as the admin and the API check it."""
from workflows.models import ReviewRule


def rule_create(name: str = "Big orders", fact: str = "total", op: str = "gte", value="1000", **fields) -> ReviewRule:
    """A saved rule testing `fact op value` (holding, its reason its name, unless `fields` say otherwise)."""
    fields.setdefault("reason", name)
    rule = ReviewRule(name=name, condition={"all": [{"fact": fact, "op": op, "value": value}]}, **fields)
    rule.full_clean()
    rule.save()
    return rule
