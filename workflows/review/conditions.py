"""A review rule's condition: a tree of `all` / `any` / `not` over comparisons of facts.

    {"all": [{"fact": "total", "op": "gt", "value": 500},
             {"not": {"fact": "categories", "op": "in", "value": ["gift-cards"]}}]}

`condition_clean` checks a tree from staff (the admin's form, the API) against the facts'
types and ranges (workflows.review.facts) and returns it canonical, or raises ConditionInvalid
listing every problem with where it is ("all[1]"). `condition_matches` evaluates a canonical
tree on an order's facts; a comparison on a fact the order does not have (no risk score yet)
is false. `condition_words` says the tree in words, with the order's values when given.
"""
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from workflows.review.facts import FACTS, OP_WORDS, FactValueError

GROUPS = ("all", "any")
MAX_DEPTH = 5
MAX_COMPARISONS = 30


@dataclass(frozen=True)
class ConditionProblem:
    path: str  # where in the tree: "" for the whole, "all[1]", "all[0].not"
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConditionInvalid(ValueError):
    def __init__(self, problems: list[ConditionProblem]):
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


def _join(path: str, step: str) -> str:
    return f"{path}.{step}" if path and not step.startswith("[") else f"{path}{step}"


def condition_clean(condition: Any) -> dict:
    """The tree, checked and canonical (values as their fact keeps them). Raises ConditionInvalid."""
    problems: list[ConditionProblem] = []
    counted = [0]
    cleaned = _clean(condition, "", 1, problems, counted)
    if counted[0] > MAX_COMPARISONS:
        problems.append(ConditionProblem("", f"A rule tests at most {MAX_COMPARISONS} comparisons."))
    if problems:
        raise ConditionInvalid(problems)
    return cleaned


def _clean(node: Any, path: str, depth: int, problems: list[ConditionProblem], counted: list[int]) -> Any:
    if not isinstance(node, dict) or not node:
        problems.append(ConditionProblem(path, 'Expected a group ({"all": […]}, {"any": […]}, {"not": …}) or a '
                                               'comparison ({"fact", "op", "value"}).'))
        return None
    if depth > MAX_DEPTH:
        problems.append(ConditionProblem(path, f"Groups nest at most {MAX_DEPTH} deep."))
        return None
    keys = set(node)
    if len(keys) == 1 and keys <= {*GROUPS, "not"}:
        (kind, inner), = node.items()
        if kind == "not":
            return {"not": _clean(inner, _join(path, "not"), depth + 1, problems, counted)}
        if not isinstance(inner, list) or not inner:
            problems.append(ConditionProblem(_join(path, kind), "Expected a list of one or more conditions."))
            return None
        return {kind: [_clean(child, f"{_join(path, kind)}[{i}]", depth + 1, problems, counted)
                       for i, child in enumerate(inner)]}
    if keys != {"fact", "op", "value"}:
        problems.append(ConditionProblem(path, 'A comparison has exactly "fact", "op" and "value"; a group has one '
                                               'of "all", "any", "not".'))
        return None
    counted[0] += 1
    fact = FACTS.get(node["fact"]) if isinstance(node["fact"], str) else None
    if fact is None:
        problems.append(ConditionProblem(path, f"Unknown fact {node['fact']!r}: one of {', '.join(FACTS)}."))
        return None
    if node["op"] not in OP_WORDS:
        problems.append(ConditionProblem(f"{path} ({fact.label})", f"Unknown op {node['op']!r}: one of "
                                                                   f"{', '.join(fact.ops)}."))
        return None
    try:
        value = fact.value(node["op"], node["value"])
    except FactValueError as exc:
        problems.append(ConditionProblem(f"{path} ({fact.label})", str(exc)))
        return None
    return {"fact": fact.name, "op": node["op"], "value": value}


def condition_facts(condition: dict) -> set[str]:
    """The facts a canonical tree tests."""
    if "fact" in condition:
        return {condition["fact"]}
    if "not" in condition:
        return condition_facts(condition["not"])
    kind = "all" if "all" in condition else "any"
    return set().union(*(condition_facts(child) for child in condition[kind]))


def _compare(op: str, actual: Any, expected: Any) -> bool:
    if actual is None:
        return False
    if isinstance(actual, list):  # a set fact: "in" is any overlap
        return bool(set(actual) & set(expected))
    if op == "in":
        return actual in expected
    return {"eq": actual == expected, "ne": actual != expected, "gt": actual > expected,
            "gte": actual >= expected, "lt": actual < expected, "lte": actual <= expected}[op]


def condition_matches(condition: dict, facts: dict[str, Any]) -> bool:
    """Whether facts ({name: Python value}, workflows.review.facts.facts_read) match a canonical tree."""
    if "fact" in condition:
        fact = FACTS[condition["fact"]]
        return _compare(condition["op"], facts.get(fact.name), fact.typed(condition["value"]))
    if "not" in condition:
        return not condition_matches(condition["not"], facts)
    children = (condition_matches(child, facts) for child in condition.get("all") or condition["any"])
    return all(children) if "all" in condition else any(children)


def _value_words(fact, value: Any, labels: dict[str, dict]) -> str:
    if isinstance(value, list):
        return ", ".join(_value_words(fact, item, labels) for item in value) or "none"
    if fact.choices is not None:
        if fact.name not in labels:
            labels[fact.name] = dict(fact.choices())
        return labels[fact.name].get(value, value)
    if fact.show is not str and value is not None:
        return fact.show(Decimal(value) if isinstance(value, str) else value)
    return "unknown" if value is None else str(value)


def condition_words(condition: dict, facts: dict[str, Any] | None = None, *,
                    labels: dict[str, dict] | None = None) -> str:
    """The tree as a sentence, e.g. "Order total > $500.00 and Account age in days < 7"; with
    `facts`, each comparison shows the order's value: "Order total ($600.00) > $500.00".
    `labels` keeps the names of listed values (categories) between calls: one read each."""
    labels = {} if labels is None else labels
    if "fact" in condition:
        fact = FACTS[condition["fact"]]
        op = "includes one of" if fact.ops == ("in",) else OP_WORDS[condition["op"]]
        actual = f" ({_value_words(fact, facts.get(fact.name), labels)})" if facts is not None else ""
        return f"{fact.label}{actual} {op} {_value_words(fact, condition['value'], labels)}"
    if "not" in condition:
        return f"not ({condition_words(condition['not'], facts, labels=labels)})"
    kind = "all" if "all" in condition else "any"
    parts = [condition_words(child, facts, labels=labels) for child in condition[kind]]
    if len(parts) == 1:
        return parts[0]
    joined = (" and " if kind == "all" else " or ").join(
        f"({part})" if " and " in part or " or " in part else part for part in parts)
    return joined
