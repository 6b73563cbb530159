"""Workflow versions in the admin: a draft is a form of fields (not JSON), refused with field
errors as the API refuses it; publishing is its own permission; a published version is read-only,
with what it changed against the version before it."""
import pytest
from django.urls import reverse

from backoffice.forms import policy_field_name
from tests.workflow_versions import version_publish_with, workflow_form_data
from workflows.models import WorkflowVersion
from workflows.policy.selectors import policy_current, policy_default
from workflows.policy.services import version_draft_create

pytestmark = pytest.mark.django_db


def change_url(version: WorkflowVersion) -> str:
    return reverse("admin:workflows_workflowversion_change", args=[version.pk])


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_adding_drafts_from_the_current_version_as_a_form_of_fields(admin_client):
    version_publish_with({"steps.payment.attempts": 2})

    page = admin_client.get(reverse("admin:workflows_workflowversion_add"))

    form = page.context["adminform"].form
    assert form.fields[policy_field_name("steps.payment.attempts")].initial == 2
    html = page.content.decode()
    assert 'name="steps__payment__timeoutSeconds"' in html and "Call timeout (seconds)" in html
    assert "Step: risk (optional)" in html and "<textarea" not in html.split('name="note"')[0][-200:]

    response = admin_client.post(reverse("admin:workflows_workflowversion_add"),
                                 {**workflow_form_data(policy_current().data), "note": "As it is"})
    assert response.status_code == 302
    draft = WorkflowVersion.objects.get(status="draft")
    assert (draft.note, draft.policy["steps"]["payment"]["attempts"]) == ("As it is", 2)


@pytest.mark.parametrize(("path", "value", "says"), [
    ("steps.payment.timeoutSeconds", "0", "Ensure this value is at least 0.01."),
    ("steps.payment.attempts", "10000", "Ensure this value is at most 10."),
    ("steps.payment.attempts", "three", "Enter a whole number."),
    ("steps.payment.timeoutSeconds", "fast", "Enter a number."),
    ("holds.hours", "1.5", "Enter a whole number."),
    ("steps.payment.timeoutSeconds", "1e400", "Enter a number."),
    ("steps.payment.timeoutSeconds", "Infinity", "Enter a number."),
    ("steps.payment.attempts", "9" * 400, "Ensure this value is between 1 and 10."),
    ("steps.payment.timeoutSeconds", "9" * 400, "Enter a number."),
])
def test_a_bad_value_shows_on_its_field_and_nothing_is_saved(admin_client, staff_user, path, value, says):
    draft = version_draft_create(actor=staff_user)
    form = {**workflow_form_data(draft.policy), policy_field_name(path): value, "note": "Broken"}

    response = admin_client.post(change_url(draft), form)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[policy_field_name(path)] == [says]
    saved = WorkflowVersion.objects.get(pk=draft.pk)
    assert (saved.note, saved.policy) == ("", draft.policy)


def test_save_and_publish_makes_it_current(admin_client, staff_user):
    draft = version_draft_create(actor=staff_user)
    form = {**workflow_form_data(draft.policy), policy_field_name("steps.risk.enabled"): "", "note": "No screening",
            "_publish": "Save and publish"}
    del form[policy_field_name("steps.risk.enabled")]  # an unticked box is not posted

    response = admin_client.post(change_url(draft), form, follow=True)

    published = WorkflowVersion.objects.get(pk=draft.pk)
    assert (published.number, published.published_by, published.note) == (2, staff_user, "No screening")
    assert policy_current().number == 2 and not policy_current().runs("risk")
    assert "Published as Version 2" in response.content.decode()


def test_publishing_without_its_permission_is_refused(client, shop_staff):
    client.force_login(shop_staff)
    draft = version_draft_create(actor=shop_staff)

    page = client.get(change_url(draft))
    refused = client.post(change_url(draft), {**workflow_form_data(draft.policy), "_publish": "Save and publish"})

    assert 'name="_publish"' not in page.content.decode()
    assert "Publishing needs" in page.content.decode()
    assert refused.status_code == 403
    assert WorkflowVersion.objects.get(pk=draft.pk).status == "draft"


def test_a_published_version_is_read_only_with_its_changes(admin_client):
    published = version_publish_with({"steps.payment.attempts": 1, "holds.expiryAction": "cancel"})

    page = admin_client.get(change_url(published))
    refused = admin_client.post(change_url(published), workflow_form_data(policy_default()))

    html = page.content.decode()
    assert page.status_code == 200 and 'name="steps__payment__attempts"' not in html
    assert "Changes from Version 1" in html
    assert "payment step: Call attempts: 3 → <strong>1</strong>" in html
    assert "Holds for approval: At the deadline: remind → <strong>cancel</strong>" in html
    assert refused.status_code == 403
    assert WorkflowVersion.objects.get(pk=published.pk).policy["steps"]["payment"]["attempts"] == 1


def test_the_history_lists_who_published_each_version(admin_client, staff_user):
    version_publish_with({"holds.hours": 12}, actor=staff_user, note="Shorter holds")

    listing = admin_client.get(reverse("admin:workflows_workflowversion_changelist"))

    rows = [(str(v), v.note, v.published_by) for v in listing.context["cl"].result_list]
    assert rows[:2] == [("Version 2", "Shorter holds", staff_user),
                        ("Version 1", "The default policy (fixtures/workflow.yaml)", None)]


def test_a_second_tab_on_the_same_draft_is_refused_instead_of_undoing_the_first(admin_client, staff_user):
    draft = version_draft_create(actor=staff_user)
    tab_a, tab_b = (admin_client.get(change_url(draft)).context["adminform"].form for _ in range(2))
    posted_a = {**workflow_form_data(draft.policy), "revision": tab_a["revision"].value(),
                policy_field_name("steps.payment.attempts"): "1"}
    posted_b = {**workflow_form_data(draft.policy), "revision": tab_b["revision"].value(),
                policy_field_name("steps.payment.timeoutSeconds"): "5"}

    saved_a = admin_client.post(change_url(draft), posted_a)
    refused_b = admin_client.post(change_url(draft), posted_b)

    assert saved_a.status_code == 302
    assert refused_b.status_code == 200
    assert "Someone else changed this draft since you opened it" in refused_b.content.decode()
    payment = WorkflowVersion.objects.get(pk=draft.pk).policy["steps"]["payment"]
    assert (payment["attempts"], payment["timeoutSeconds"]) == (1, 30.0)  # tab A's change stays
    reloaded = admin_client.get(change_url(draft)).context["adminform"].form
    again = {**posted_b, policy_field_name("steps.payment.attempts"): "1", "revision": reloaded["revision"].value()}
    assert admin_client.post(change_url(draft), again).status_code == 302
    payment = WorkflowVersion.objects.get(pk=draft.pk).policy["steps"]["payment"]
    assert (payment["attempts"], payment["timeoutSeconds"]) == (1, 5.0)


@pytest.mark.parametrize("stored", [{"steps": {}}, {"steps": {"fraudcheck": {"attempts": 1}}}, {"steps": None}])
def test_a_draft_whose_steps_the_pipeline_no_longer_has_still_shows_its_page(admin_client, stored):
    draft = WorkflowVersion.objects.create(policy=stored)

    page = admin_client.get(change_url(draft))
    listed = admin_client.get(reverse("admin:workflows_workflowversion_changelist"))
    queued = admin_client.post(change_url(draft), {"_dry_run": "1"}, follow=True)

    assert (page.status_code, listed.status_code) == (200, 200)
    assert "Processing payment (paying): payment: 3 attempts" in page.content.decode()
    assert "Not queued: the draft is not valid now." in queued.content.decode()
    assert WorkflowVersion.objects.get(pk=draft.pk).dry_run is None


def test_a_versions_page_shows_what_the_pipeline_does_in_each_state_under_it(admin_client):
    published = version_publish_with({"steps.risk.enabled": False, "steps.payment.attempts": 1})

    html = admin_client.get(change_url(published)).content.decode()

    assert "Screening for risk (skipped): risk: switched off" in html
    assert "Processing payment (paying): payment: 1 attempt of 30 s" in html


def test_an_orders_page_links_the_version_it_runs_on(admin_client, order_in):
    version_publish_with({"holds.hours": 12})
    order = order_in("paid")

    page = admin_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    listing = admin_client.get(reverse("admin:workflows_workflowversion_changelist"), {"number": 2})

    assert "?number=2\">Version 2</a>" in page
    assert [str(version) for version in listing.context["cl"].result_list] == ["Version 2"]
