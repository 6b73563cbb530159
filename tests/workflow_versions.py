"""Publishing a workflow version in a test, as staff would: the current policy with some values changed."""
from backoffice.forms import policy_field_name
from workflows.models import WorkflowVersion
from workflows.policy.schema import fields, value_at, value_set
from workflows.policy.services import version_draft_create, version_draft_update, version_publish


def version_publish_with(changes: dict, *, actor=None, note: str = "") -> WorkflowVersion:
    """Publish the current policy with `changes`, by path ({"steps.payment.attempts": 1}); returns
    the new current version."""
    nested: dict = {}
    for path, value in changes.items():
        value_set(nested, path, value)
    draft = version_draft_create(actor=actor, note=note)
    version_draft_update(version=draft, actor=actor, changes=nested)
    return version_publish(version=draft, actor=actor)


def workflow_form_data(policy: dict) -> dict[str, str]:
    """The admin's version form as posted, holding `policy` (a checkbox left out when off)."""
    data = {}
    for path, setting in fields():
        value = value_at(policy, path)
        if setting.kind is bool:
            if value:
                data[policy_field_name(path)] = "on"
        else:
            data[policy_field_name(path)] = str(value)
    return data
