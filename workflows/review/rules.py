"""Review rules written by staff through the API (the admin saves its own form): every change
is checked as the model checks it and recorded by the audit trail (django-auditlog)."""
from typing import Any

from store import permissions
from workflows.models import ReviewRule

RULE_FIELDS = ("name", "priority", "enabled", "action", "condition", "reason", "customer_message", "hold_hours",
               "expiry_action")


def review_rule_create(*, actor, **values: Any) -> ReviewRule:
    """A new rule from checked `values` (RULE_FIELDS). Raises PermissionRefused, ValidationError."""
    permissions.require(actor, permissions.RULE_ADD)
    rule = ReviewRule(**{name: values[name] for name in RULE_FIELDS if name in values})
    rule.full_clean()
    rule.save()
    return rule


def review_rule_update(*, rule: ReviewRule, actor, **values: Any) -> ReviewRule:
    """`rule` with the given `values` changed. Raises PermissionRefused, ValidationError."""
    permissions.require(actor, permissions.RULE_CHANGE)
    for name in RULE_FIELDS:
        if name in values:
            setattr(rule, name, values[name])
    rule.full_clean()
    rule.save()
    return rule


def review_rule_delete(*, rule: ReviewRule, actor) -> None:
    """Delete `rule`; holds and evaluations it made keep its name. Raises PermissionRefused."""
    permissions.require(actor, permissions.RULE_DELETE)
    rule.delete()
