"""/api/workflow: the current version, the list, drafts changed by PATCH and published by POST;
each needs its permission, and a refusal writes nothing."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.workflow_versions import version_publish_with
from workflows.models import WorkflowVersion
from workflows.policy.selectors import policy_default

pytestmark = pytest.mark.django_db


def test_the_current_version_names_every_step_with_its_policy(staff_api):
    response = staff_api.get("/api/workflow")

    assert response.status_code == 200
    body = response.json()
    assert (body["version"], body["status"]) == (1, "published")
    assert list(body["steps"]) == ["address", "inventory", "risk", "payment", "shipping"]
    assert body["steps"]["payment"] == {
        "attempts": 3, "backoff": {"baseSeconds": 1.0, "factor": 2.0, "capSeconds": 60.0, "jitter": 0.5},
        "timeoutSeconds": 30.0, "callBudget": 3, "stateRetries": 2,
        "circuit": {"failures": 5, "coolDownSeconds": 15.0}, "bulkhead": 16}
    assert body["steps"]["risk"]["enabled"] is True
    assert body["payment"] == {"confirmationTimeoutSeconds": 900, "reconcileAfterSeconds": 120,
                               "reconcileEveryMinutes": 1}
    assert body["tracking"] == {"timeoutSeconds": 3600.0, "askMaxSeconds": 21600.0, "lookupTimeoutSeconds": 10.0}
    assert body["holds"] == {"hours": 24, "expiryAction": "remind"}
    assert body["publishedAt"] and body["publishedBy"] is None  # the data migration's


def test_a_draft_is_made_changed_and_published_and_then_is_current(staff_api, staff_user):
    made = staff_api.post("/api/workflow/versions", {"note": "One charge attempt",
                                                     "steps": {"payment": {"attempts": 1}}}, format="json")
    assert made.status_code == 201, made.json()
    draft = made.json()
    assert (draft["version"], draft["status"], draft["steps"]["payment"]["attempts"]) == (None, "draft", 1)
    assert draft["changes"] == [{"path": "steps.payment.attempts", "from": 3, "to": 1}]
    assert draft["createdBy"] == staff_user.email

    changed = staff_api.patch(f"/api/workflow/versions/{draft['id']}",
                              {"steps": {"risk": {"enabled": False}}}, format="json")
    assert changed.status_code == 200
    assert changed.json()["steps"]["risk"]["enabled"] is False
    assert changed.json()["steps"]["payment"]["attempts"] == 1  # a PATCH changes what it names only

    published = staff_api.post(f"/api/workflow/versions/{draft['id']}/publish")
    assert published.status_code == 200
    assert (published.json()["version"], published.json()["publishedBy"]) == (2, staff_user.email)
    current = staff_api.get("/api/workflow").json()
    assert (current["version"], current["steps"]["risk"]["enabled"]) == (2, False)
    listed = staff_api.get("/api/workflow/versions").json()
    assert [(v["version"], v["status"]) for v in listed] == [(2, "published"), (1, "published")]
    assert {c["path"] for c in listed[0]["changes"]} == {"steps.payment.attempts", "steps.risk.enabled"}


@pytest.mark.parametrize(("body", "field"), [
    ({"steps": {"payment": {"timeoutSeconds": 0}}}, "steps.payment.timeoutSeconds"),
    ({"steps": {"payment": {"attempts": 10_000}}}, "steps.payment.attempts"),
    ({"steps": {"payment": {"attempts": "three"}}}, "steps.payment.attempts"),
    ({"steps": {"shipping": {"circuit": {"failures": None}}}}, "steps.shipping.circuit.failures"),
    ({"holds": {"hours": 721}}, "holds.hours"),
    ({"color": "blue"}, "color"),
])
def test_a_bad_patch_answers_field_errors_and_writes_nothing(staff_api, staff_user, body, field):
    draft = staff_api.post("/api/workflow/versions", {}, format="json").json()
    before = WorkflowVersion.objects.get(pk=draft["id"]).policy

    response = staff_api.patch(f"/api/workflow/versions/{draft['id']}", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and field in response.json()["fields"]
    assert WorkflowVersion.objects.get(pk=draft["id"]).policy == before


HUGE = [
    ('{"steps": {"payment": {"attempts": 1e400}}}', "steps.payment.attempts", "Enter a whole number."),
    ('{"steps": {"payment": {"callBudget": -1e400}}}', "steps.payment.callBudget", "Enter a whole number."),
    ('{"steps": {"payment": {"timeoutSeconds": 1%s}}}' % ("0" * 400), "steps.payment.timeoutSeconds",
     "Ensure this value is between 0.01 and 300."),
    ('{"steps": {"payment": {"attempts": 1%s}}}' % ("0" * 400), "steps.payment.attempts",
     "Ensure this value is between 1 and 10."),
    ('{"tracking": {"timeoutSeconds": -1e400}}', "tracking.timeoutSeconds", "Enter a number."),
]


@pytest.mark.parametrize(("raw", "field", "says"), HUGE)
def test_a_number_too_large_for_the_machine_is_a_field_error_on_post_and_patch(staff_api, raw, field, says):
    draft = staff_api.post("/api/workflow/versions", {}, format="json").json()
    before = WorkflowVersion.objects.get(pk=draft["id"]).policy

    made = staff_api.post("/api/workflow/versions", raw, content_type="application/json")
    changed = staff_api.patch(f"/api/workflow/versions/{draft['id']}", raw, content_type="application/json")

    for response in (made, changed):
        assert response.status_code == 400, response.content
        assert response.json()["fields"] == {field: [says]}
    assert WorkflowVersion.objects.filter(status="draft").count() == 1
    assert WorkflowVersion.objects.get(pk=draft["id"]).policy == before


def test_an_empty_post_drafts_a_copy_of_the_current_version(staff_api):
    draft = staff_api.post("/api/workflow/versions", {}, format="json")

    assert draft.status_code == 201
    assert draft.json()["changes"] == []
    assert WorkflowVersion.objects.get(pk=draft.json()["id"]).policy == policy_default()


@pytest.mark.parametrize("stored", [
    {"steps": {}},
    {"steps": {"fraudcheck": {"attempts": 1}}, "holds": {"hours": 5}},
    {"steps": "nothing", "payment": None},
])
def test_a_stored_policy_that_no_longer_matches_the_pipelines_steps_is_still_shown(staff_api, stored):
    """A step added to (or removed from) the pipeline after a version was saved: its values are
    the file's, a removed one is left out; publishing or dry-running it names what is wrong."""
    draft = WorkflowVersion.objects.create(policy=stored)

    shown = staff_api.get(f"/api/workflow/versions/{draft.pk}")
    listed = staff_api.get("/api/workflow/versions")
    dry_run = staff_api.post(f"/api/workflow/versions/{draft.pk}/dry-run")
    published = staff_api.post(f"/api/workflow/versions/{draft.pk}/publish")

    assert (shown.status_code, listed.status_code) == (200, 200)
    assert list(shown.json()["steps"]) == ["address", "inventory", "risk", "payment", "shipping"]
    assert shown.json()["holds"]["hours"] == stored.get("holds", {}).get("hours", 24)
    assert dry_run.status_code == 400 and dry_run.json()["code"] == "invalid"
    assert published.status_code == 400 and published.json()["code"] == "invalid"
    assert WorkflowVersion.objects.get(pk=draft.pk).status == "draft"
    assert WorkflowVersion.objects.get(pk=draft.pk).dry_run is None


def test_a_patch_sent_with_the_revision_it_read_is_refused_once_someone_changed_the_draft(staff_api):
    draft = staff_api.post("/api/workflow/versions", {}, format="json").json()
    first = staff_api.patch(f"/api/workflow/versions/{draft['id']}",
                            {"revision": draft["revision"], "steps": {"payment": {"attempts": 1}}}, format="json")

    stale = staff_api.patch(f"/api/workflow/versions/{draft['id']}",
                            {"revision": draft["revision"], "holds": {"hours": 2}}, format="json")

    assert first.status_code == 200 and first.json()["revision"] != draft["revision"]
    assert (stale.status_code, stale.json()["code"]) == (409, "draft_changed")
    assert "Someone else changed this draft" in stale.json()["error"]
    policy = WorkflowVersion.objects.get(pk=draft["id"]).policy
    assert (policy["steps"]["payment"]["attempts"], policy["holds"]["hours"]) == (1, 24)
    fresh = staff_api.patch(f"/api/workflow/versions/{draft['id']}",
                            {"revision": first.json()["revision"], "holds": {"hours": 2}}, format="json")
    assert fresh.status_code == 200 and fresh.json()["holds"]["hours"] == 2


def test_a_bad_draft_is_refused_and_not_made(staff_api):
    response = staff_api.post("/api/workflow/versions", {"steps": {"payment": {"timeoutSeconds": 0}}}, format="json")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["steps.payment.timeoutSeconds"]
    assert not WorkflowVersion.objects.filter(status="draft").exists()


def test_a_published_version_cannot_be_changed_or_published_again(staff_api):
    published = version_publish_with({"holds.hours": 12})

    changed = staff_api.patch(f"/api/workflow/versions/{published.pk}", {"holds": {"hours": 1}}, format="json")
    again = staff_api.post(f"/api/workflow/versions/{published.pk}/publish")

    assert (changed.status_code, changed.json()["code"]) == (409, "version_published")
    assert again.status_code == 409
    assert WorkflowVersion.objects.get(pk=published.pk).policy["holds"]["hours"] == 12


def test_publishing_without_its_permission_is_403_and_publishes_nothing(shop_staff, jwt_client):
    clerk = jwt_client(shop_staff)
    draft = clerk.post("/api/workflow/versions", {"steps": {"payment": {"attempts": 1}}}, format="json").json()

    response = clerk.post(f"/api/workflow/versions/{draft['id']}/publish")

    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert "publish workflow versions" in response.json()["error"]
    assert WorkflowVersion.objects.get(pk=draft["id"]).status == "draft"
    assert clerk.get("/api/workflow").json()["version"] == 1


def test_customers_cannot_read_the_policy(customer_api):
    assert customer_api.get("/api/workflow").status_code == 403
    assert customer_api.get("/api/workflow/versions").status_code == 403


def test_orders_show_the_version_they_run_on(customer_api, customer, place_order, settings):
    settings.PIPELINE_TASKS_SYNC = False
    first = place_order(customer)
    version_publish_with({"holds.hours": 12})
    second = place_order(customer)

    assert customer_api.get(f"/api/orders/{first.pk}").json()["workflowVersion"] == 1
    assert customer_api.get(f"/api/orders/{second.pk}").json()["workflowVersion"] == 2


def test_placement_stamps_the_version_in_the_orders_own_insert(customer, place_order, settings):
    settings.PIPELINE_TASKS_SYNC = False
    version_publish_with({"holds.hours": 12})
    with CaptureQueriesContext(connection) as queries:
        order = place_order(customer)

    assert order.workflow_version == 2
    writes = [q["sql"] for q in queries.captured_queries if "orders_order" in q["sql"].split(" WHERE")[0]
              and q["sql"].lstrip().upper().startswith("UPDATE")]
    assert writes == []  # no UPDATE of the order for its version


def test_the_schema_documents_the_workflow_endpoints(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    assert {"/api/workflow", "/api/workflow/versions", "/api/workflow/versions/{version_id}",
            "/api/workflow/versions/{version_id}/publish"} <= set(schema["paths"])
    assert set(policy_default()) <= set(schema["components"]["schemas"]["WorkflowVersionOutput"]["properties"])
