"""The policy as a file: fixtures/workflow.yaml is version 1, `workflow_export` and `workflow_import`
write and read a version as YAML, checked as the admin and the API check a draft."""
from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command

from tests.workflow_versions import version_publish_with
from workflows.models import WorkflowVersion
from workflows.policy.checks import policy_variables_set
from workflows.policy.selectors import DEFAULT_POLICY_FILE, policy_current, policy_default

pytestmark = pytest.mark.django_db


def export(*args: str) -> str:
    out = StringIO()
    call_command("workflow_export", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_export_then_import_round_trips_a_version(tmp_path):
    published = version_publish_with({"steps.payment.attempts": 1, "steps.risk.enabled": False,
                                      "holds.expiryAction": "cancel"}, note="Strict")
    path = tmp_path / "policy.yaml"
    call_command("workflow_export", str(published.number), "--output", str(path), stdout=StringIO(),
                 stderr=StringIO())

    out = StringIO()
    call_command("workflow_import", str(path), "--publish", stdout=out)

    imported = WorkflowVersion.objects.get(number=published.number + 1)
    assert imported.policy == published.policy
    assert policy_current().number == imported.number
    assert "Published as version 3" in out.getvalue()


def test_the_export_of_version_1_is_the_file_it_came_from():
    assert yaml.safe_load(export("1")) == yaml.safe_load(DEFAULT_POLICY_FILE.read_text()) == policy_default()
    # The pipeline's order.
    assert list(yaml.safe_load(export("1"))["steps"]) == ["address", "inventory", "risk", "payment", "shipping"]


def test_an_invalid_file_is_refused_by_path_and_writes_nothing(tmp_path):
    policy = policy_default()
    policy = {**policy, "steps": {**policy["steps"], "payment": {**policy["steps"]["payment"], "timeoutSeconds": 0,
                                                                  "attempts": "many"}}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(policy))

    with pytest.raises(CommandError) as refused:
        call_command("workflow_import", str(path), "--publish", stdout=StringIO())

    assert "steps.payment.timeoutSeconds" in str(refused.value) and "steps.payment.attempts" in str(refused.value)
    assert "nothing was saved" in str(refused.value)
    assert WorkflowVersion.objects.count() == 1


def test_a_file_exported_before_the_address_check_existed_imports_with_the_steps_defaults(tmp_path):
    published = version_publish_with({"steps.payment.attempts": 1}, note="Fewer charges")
    older = yaml.safe_load(export(str(published.number)))
    del older["steps"]["address"]  # as the export read before the step was added
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(older, sort_keys=False))
    out = StringIO()

    call_command("workflow_import", str(path), "--publish", stdout=out)

    imported = policy_current()
    assert imported.number == published.number + 1
    assert imported.data["steps"]["address"] == policy_default()["steps"]["address"]
    assert imported.data["steps"]["payment"]["attempts"] == 1  # the file's own values stay
    assert "has no steps.address (it was exported before the step existed): filled with " \
        "fixtures/workflow.yaml's values" in out.getvalue()
    assert f"Published as version {imported.number}" in out.getvalue()


def test_a_step_missing_only_some_values_is_still_refused_by_path(tmp_path):
    policy = policy_default()
    address = {key: value for key, value in policy["steps"]["address"].items() if key != "attempts"}
    path = tmp_path / "partial.yaml"
    path.write_text(yaml.safe_dump({**policy, "steps": {**policy["steps"], "address": address}}))

    with pytest.raises(CommandError) as refused:
        call_command("workflow_import", str(path), stdout=StringIO())

    assert "steps.address.attempts: This field is required." in str(refused.value)
    assert WorkflowVersion.objects.count() == 1


def _exported_with(line: str, value: str) -> str:
    """The current version's YAML with the payment step's `line` ("attempts: 3") set to `value`."""
    text = export()
    head, payment = text.split("  payment:\n", 1)
    assert f"    {line}\n" in payment
    return head + "  payment:\n" + payment.replace(f"    {line}\n", f"    {line.split(':')[0]}: {value}\n", 1)


@pytest.mark.parametrize(("line", "value", "says"), [
    ("timeoutSeconds: 30.0", ".nan", "steps.payment.timeoutSeconds: Enter a number."),
    ("timeoutSeconds: 30.0", ".inf", "steps.payment.timeoutSeconds: Enter a number."),
    ("attempts: 3", "-.inf", "steps.payment.attempts: Enter a whole number."),
    ("attempts: 3", "1" + "0" * 400, "steps.payment.attempts: Ensure this value is between 1 and 10."),
    ("timeoutSeconds: 30.0", "1" + "0" * 400, "steps.payment.timeoutSeconds: Ensure this value is between 0.01 and 300."),
])
def test_a_number_the_machine_cannot_hold_is_refused_by_its_path(tmp_path, line, value, says):
    path = tmp_path / "huge.yaml"
    path.write_text(_exported_with(line, value))

    with pytest.raises(CommandError) as refused:
        call_command("workflow_import", str(path), "--publish", stdout=StringIO())

    assert says in str(refused.value) and "nothing was saved" in str(refused.value)
    assert WorkflowVersion.objects.count() == 1


@pytest.mark.parametrize(("text", "says"), [
    ("", "policy: The file holds no policy."),
    ("# the shop's policy\n\n# to be written\n", "policy: The file holds no policy."),
    ("just words\n", "policy: Expected a mapping with steps, payment, tracking and holds."),
    ("- 1\n- 2\n", "policy: Expected a mapping with steps, payment, tracking and holds."),
])
def test_a_file_without_a_policy_is_refused_not_taken_as_the_current_one(tmp_path, text, says):
    path = tmp_path / "empty.yaml"
    path.write_text(text)

    for publish in ((), ("--publish",)):
        with pytest.raises(CommandError) as refused:
            call_command("workflow_import", str(path), *publish, stdout=StringIO())
        assert says in str(refused.value) and "nothing was saved" in str(refused.value)
    assert WorkflowVersion.objects.count() == 1
    assert policy_current().number == 1


def test_a_file_that_cannot_be_read_is_refused_with_why(tmp_path):
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(export().replace("Call", "Caf\u00e9").encode("utf-8") + b"# caf\xe9\n")

    with pytest.raises(CommandError) as missing:
        call_command("workflow_import", str(tmp_path / "nowhere.yaml"), stdout=StringIO())
    with pytest.raises(CommandError) as not_utf8:
        call_command("workflow_import", str(latin1), "--publish", stdout=StringIO())

    assert "Cannot read" in str(missing.value) and "No such file" in str(missing.value)
    assert "is not UTF-8 text" in str(not_utf8.value) and "nothing was saved" in str(not_utf8.value)
    assert WorkflowVersion.objects.count() == 1


def test_an_import_without_publish_is_a_draft(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(export())

    call_command("workflow_import", str(path), "--note", "From git", stdout=StringIO())

    draft = WorkflowVersion.objects.get(status="draft")
    assert (draft.number, draft.note, draft.policy) == (None, "From git", policy_default())
    assert policy_current().number == 1


def test_a_new_store_bootstraps_version_1_from_the_yaml_file():
    WorkflowVersion.objects.all().delete()  # drafts and versions of a store made before any was stored
    assert not WorkflowVersion.objects.exists()

    call_command("store_bootstrap", stdout=StringIO())
    call_command("store_bootstrap", stdout=StringIO())  # again, as every start does: nothing more

    (first,) = WorkflowVersion.objects.all()
    assert (first.number, first.status, first.policy) == (1, "published", policy_default())


def test_a_variable_naming_a_value_of_the_policy_is_reported_as_not_read():
    environ = {"PAYMENT_TIMEOUT": "5", "RISK_RETRIES": "0", "HOLD_HOURS": "12", "SIM_LATENCY_SCALE": "0",
               "PIPELINE_BACKOFF_SCALE": "1"}

    assert policy_variables_set(environ) == ["RISK_RETRIES", "PAYMENT_TIMEOUT", "HOLD_HOURS"]


def test_the_diagram_of_a_version_notes_its_policy_and_draws_a_skipped_step_dashed():
    version_publish_with({"steps.risk.enabled": False, "steps.shipping.timeoutSeconds": 12.5})
    out = StringIO()

    call_command("order_diagram", "--workflow-version", "2", "--output", "-", stdout=out)

    text = out.getvalue()
    assert "what workflow version 2 does in each state" in text
    assert "note right of screening: risk: switched off" in text and "class screening skipped" in text
    assert "note right of shipping: shipping: 3 attempts of 12.5 s" in text
    with pytest.raises(CommandError):
        call_command("order_diagram", "--workflow-version", "9", "--output", "-", stdout=StringIO())
