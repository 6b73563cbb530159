"""The review rules asked about orders: the live decision, recorded, and the backtest."""
from dataclasses import dataclass

from orders.models import Order
from store.request_context import request_id_var
from workflows.models import Hold, ReviewRule, RuleEvaluation
from workflows.review.conditions import condition_facts, condition_words
from workflows.review.facts import facts_read, facts_recorded, facts_typed

BACKTEST_MAX = 500  # orders one backtest reads


def review_rules_enabled() -> list[ReviewRule]:
    """The enabled rules, in the order they are asked (priority, then id)."""
    return list(ReviewRule.objects.filter(enabled=True).order_by("priority", "id"))


def _outcomes(rules: list[ReviewRule], facts: dict) -> tuple[list[dict], ReviewRule | None]:
    """Each rule's outcome on `facts`, in order, and the first that matched (it decides)."""
    outcomes, deciding, labels = [], None, {}
    for rule in rules:
        matched = rule.matches(facts)
        outcomes.append({"rule": rule.pk, "name": rule.name, "action": rule.action, "matched": matched,
                         "because": condition_words(rule.condition, facts, labels=labels)})
        if matched and deciding is None:
            deciding = rule
    return outcomes, deciding


def review_evaluate(order: Order, rules: list[ReviewRule] | None = None) -> RuleEvaluation:
    """Ask the enabled rules (or `rules`) about `order`: an unsaved RuleEvaluation with the facts
    they read, every rule's outcome and the decision (the first rule that matched, else pass).
    Reads the facts in one query (two with categories), none when no rule needs one of the
    order's rows beyond itself."""
    rules = review_rules_enabled() if rules is None else rules
    needed = set().union(*(condition_facts(rule.condition) for rule in rules)) if rules else set()
    facts = facts_read([order.pk], needed).get(order.pk, {}) if needed else {}
    outcomes, deciding = _outcomes(rules, facts)
    decision = deciding.action if deciding else RuleEvaluation.Decision.PASS
    return RuleEvaluation(order=order, facts=facts_recorded(facts), outcomes=outcomes, decision=decision,
                          rule=deciding, request_id=request_id_var.get() or "")


@dataclass(frozen=True)
class BacktestRow:
    order: Order
    matched: bool
    because: str  # the condition in words with the order's values
    recorded: bool  # the facts are those recorded when the order was reviewed (else read now)


@dataclass(frozen=True)
class Backtest:
    """What `rule` would have done to the `considered` most recent orders: `rows`, newest first."""

    rule: ReviewRule
    rows: list[BacktestRow]

    @property
    def considered(self) -> int:
        return len(self.rows)

    @property
    def matched(self) -> list[BacktestRow]:
        return [row for row in self.rows if row.matched]


def review_rule_backtest(*, rule: ReviewRule, last: int = 100) -> Backtest:
    """Run `rule` (saved or not, enabled or not; its condition canonical) on the last `last`
    orders: on the facts recorded when each was reviewed, and the facts not recorded then read
    now, as of the order's placing (workflows.review.facts). Five queries at most."""
    last = max(1, min(last, BACKTEST_MAX))
    orders = list(Order.objects.select_related("owner").order_by("-created_at", "-id")[:last])
    needed = condition_facts(rule.condition)
    recorded: dict[int, dict] = {}
    for order_id, facts in (RuleEvaluation.objects.filter(order__in=orders).order_by("created_at", "id")
                            .values_list("order_id", "facts")):
        recorded[order_id] = facts_typed(facts)  # the latest evaluation's facts win
    missing = {order.pk for order in orders if not needed <= set(recorded.get(order.pk, {}))}
    read_now = facts_read(sorted(missing), needed) if missing else {}
    rows, labels = [], {}
    for order in orders:
        facts = {**read_now.get(order.pk, {}), **{name: value for name, value in recorded.get(order.pk, {}).items()
                                                  if name in needed}}
        rows.append(BacktestRow(order=order, matched=rule.matches(facts),
                                because=condition_words(rule.condition, facts, labels=labels),
                                recorded=order.pk not in missing))
    return Backtest(rule=rule, rows=rows)


def order_review(order: Order) -> tuple[RuleEvaluation | None, Hold | None]:
    """What the review rules last said of `order` (None when never asked) and its hold (with its
    assignee; None when never held). Two queries."""
    evaluation = order.rule_evaluations.order_by("-created_at", "-id").first()
    return evaluation, Hold.objects.filter(order=order).select_related("assignee").first()
