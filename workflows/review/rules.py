"""Review rules written by staff, through the API and the admin's form: every change is checked
the same way, needs the same permission and is recorded by the audit trail (django-auditlog)."""
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from store import permissions
from store.errors import NotFound
from workflows.models import ReviewRule
from workflows.review.conditions import ConditionInvalid, condition_clean

RULE_FIELDS = ("name", "priority", "enabled", "action", "condition", "reason", "customer_message", "hold_hours",
               "expiry_action")


def _checked(rule: ReviewRule, values: dict[str, Any]) -> ReviewRule:
    if "condition" in values:
        try:
            values = {**values, "condition": condition_clean(values["condition"])}
        except ConditionInvalid as exc:
            raise ValidationError({"condition": [str(problem) for problem in exc.problems]}) from exc
    for name in RULE_FIELDS:
        if name in values:
            setattr(rule, name, values[name])
    return rule


def review_rule_save(*, rule: ReviewRule, actor) -> ReviewRule:
    """Save `rule` as staff set it (the admin's form, or create/update below): a new one needs
    the add permission, a change the change permission. Raises PermissionRefused,
    ValidationError, NotFound (deleted meanwhile: a change never brings it back)."""
    permissions.require(actor, permissions.RULE_CHANGE if rule.pk else permissions.RULE_ADD)
    rule.full_clean()
    if rule.pk is None:
        rule.save()
        return rule
    try:
        with transaction.atomic():  # its own savepoint: a refused save leaves the caller's transaction usable
            rule.save(force_update=True)
    except DatabaseError as exc:  # "did not affect any rows": someone deleted it since it was read
        if ReviewRule.objects.filter(pk=rule.pk).exists():
            raise
        raise NotFound("The rule was deleted meanwhile; nothing was saved.") from exc
    return rule


def review_rule_create(*, actor, **values: Any) -> ReviewRule:
    """A new rule from `values` (RULE_FIELDS). Raises PermissionRefused, ValidationError."""
    return review_rule_save(rule=_checked(ReviewRule(), values), actor=actor)


def review_rule_update(*, rule: ReviewRule, actor, **values: Any) -> ReviewRule:
    """`rule` with the given `values` changed. Raises PermissionRefused, ValidationError, NotFound."""
    return review_rule_save(rule=_checked(rule, values), actor=actor)


def review_rule_delete(*, rule: ReviewRule, actor) -> None:
    """Delete `rule`; holds and evaluations it made keep its name. Raises PermissionRefused."""
    permissions.require(actor, permissions.RULE_DELETE)
    rule.delete()
