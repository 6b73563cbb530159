"""Workflow versions as the pipeline runs them: each order runs on the version current when it was
placed, to its end (retries and re-drives included); what providers share follows the current
version. In-process pipeline (django-q2's sync mode)."""
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from orders.models import Order
from orders.selectors import order_timeline
from orders.services import order_redrive
from providers import breakers
from providers.models import GatewayCall, ProviderCall
from store.errors import Conflict, PermissionRefused
from tests.conftest import CARD_APPROVE, CARD_TIMEOUT_ONCE
from tests.workflow_versions import version_publish_with
from workflows import executor
from workflows.models import VersionPublished, WorkflowVersion
from workflows.pipeline import pipeline_advance
from workflows.policy.selectors import policy_current, policy_default, policy_of, version_current_number
from workflows.policy.services import version_draft_create, version_draft_update, version_publish

# Not a test card: the simulator answers by its rates, which a test may set.
CARD_BY_RATES = "4111111111111111"


def charges(order: Order) -> int:
    return GatewayCall.objects.filter(gateway="payment", operation="charge", order_id=order.pk).count()


@pytest.fixture
def placed_only(sync_pipeline, settings):
    """Orders are placed without running the pipeline; the test runs each itself (pipeline_advance)."""
    settings.PIPELINE_TASKS_SYNC = False
    return settings


def test_one_payment_attempt_applies_to_orders_placed_after_it_was_published(placed_only, customer, place_order):
    before = place_order(customer, card=CARD_TIMEOUT_ONCE)
    published = version_publish_with({"steps.payment.attempts": 1}, note="One charge attempt")
    after = place_order(customer, card=CARD_TIMEOUT_ONCE)

    placed_only.PIPELINE_TASKS_SYNC = True
    pipeline_advance(before.pk)
    pipeline_advance(after.pk)

    before, after = Order.objects.get(pk=before.pk), Order.objects.get(pk=after.pk)
    assert (before.workflow_version, after.workflow_version) == (1, published.number) == (1, 2)
    # The card times out once: two attempts ride it out, one does not.
    assert (charges(before), before.state, bool(before.transaction_id)) == (2, "delivered", True)
    assert (charges(after), after.state, after.transaction_id) == (1, "stalled", "")
    assert "Payment provider timed out (1 attempts)" in after.failure_reason


def test_switching_risk_screening_off_skips_it_for_new_orders_only(placed_only, customer, place_order):
    before = place_order(customer, card=CARD_APPROVE)
    version_publish_with({"steps.risk.enabled": False})
    after = place_order(customer, card=CARD_APPROVE)

    placed_only.PIPELINE_TASKS_SYNC = True
    pipeline_advance(before.pk)
    pipeline_advance(after.pk)

    before, after = Order.objects.get(pk=before.pk), Order.objects.get(pk=after.pk)
    assert before.state == after.state == "delivered"
    assert ProviderCall.objects.filter(order_id=before.pk, provider="risk").count() == 1
    assert before.risk_score is not None and before.events.filter(transition="risk_scored").exists()
    assert not ProviderCall.objects.filter(order_id=after.pk, provider="risk").exists()
    assert after.risk_score is None
    assert list(after.events.exclude(transition="").values_list("transition", flat=True))[:4] == [
        "start_address_check", "address_confirmed", "validation_passed_unscreened", "start_payment"]
    assert [stage.key for stage in order_timeline(order=before)] == [
        "created", "address", "inventory", "risk", "payment", "shipping", "delivered"]
    assert [stage.key for stage in order_timeline(order=after)] == [
        "created", "address", "inventory", "payment", "shipping", "delivered"]


def test_an_order_waiting_in_its_pipeline_keeps_its_version_through_retries(placed_only, customer, place_order):
    """The state-level retries of a declined payment are the order's version's, even when a later
    version retries more."""
    version_publish_with({"steps.payment.stateRetries": 0})
    declined = place_order(customer, card="4000 0000 0000 0002")
    version_publish_with({"steps.payment.stateRetries": 2})

    placed_only.PIPELINE_TASKS_SYNC = True
    pipeline_advance(declined.pk)

    declined = Order.objects.get(pk=declined.pk)
    assert (declined.workflow_version, declined.state, charges(declined)) == (2, "failed", 1)
    assert not declined.events.filter(transition="retry_payment").exists()


def test_a_re_drive_of_a_stalled_order_runs_on_its_own_version(sync_pipeline, customer, place_order, settings,
                                                               staff_user):
    settings.SIMULATOR = {**settings.SIMULATOR, "PAYMENT_APPROVE_RATE": 0.0, "PAYMENT_DECLINE_RATE": 0.0}
    version_publish_with({"steps.payment.attempts": 1, "steps.payment.circuit.failures": 100})
    order = Order.objects.get(pk=place_order(customer, card=CARD_BY_RATES).pk)
    assert (order.workflow_version, order.state, charges(order)) == (2, "stalled", 1)

    version_publish_with({"steps.payment.attempts": 3})  # the current version now tries three times
    order_redrive(order=order, actor=staff_user)

    order = Order.objects.get(pk=order.pk)
    assert (order.state, charges(order)) == ("stalled", 2)  # one more call: its version's one attempt


def test_the_current_versions_circuit_thresholds_apply_to_the_breakers(db):
    version_publish_with({"steps.shipping.circuit.failures": 2, "steps.shipping.circuit.coolDownSeconds": 40})

    assert breakers.failed("shipping", "timeout") is None
    opened_until = breakers.failed("shipping", "timeout")

    assert breakers.circuit("shipping", fresh=True).state == breakers.OPEN  # after 2 timeouts, not 5
    assert 30 < (opened_until - timezone.now()).total_seconds() <= 40  # for its 40 s cool-down, not 15


def test_the_current_versions_bulkhead_sizes_each_providers_places(db, settings):
    settings.PIPELINE = {**settings.PIPELINE, "BULKHEAD_WAIT_SECONDS": 0.01}
    version_publish_with({"steps.inventory.bulkhead": 1})

    with executor.provider_slot("inventory") as first:
        with executor.provider_slot("inventory") as second:
            assert (first, second) == (True, False)  # one place: the second waits, then is turned away
    version_publish_with({"steps.inventory.bulkhead": 2})
    with executor.provider_slot("inventory") as first, executor.provider_slot("inventory") as second:
        assert (first, second) == (True, True)


# --- versions themselves --------------------------------------------------------------------------

def test_version_1_is_the_yaml_file_stored_by_the_data_migration(db):
    first = WorkflowVersion.objects.get(number=1)

    assert first.published and first.policy == policy_default()
    assert policy_current().number == 1 and policy_of(1).data == policy_default()
    # Today's defaults: attempts are the retries + 1 the steps had.
    steps = first.policy["steps"]
    names = ("address", "inventory", "risk", "payment", "shipping")
    assert [steps[name]["attempts"] for name in names] == [2, 2, 2, 3, 3]
    assert [steps[name]["timeoutSeconds"] for name in names] == [10, 10, 5, 30, 30]


def test_a_draft_has_no_number_until_published_and_then_is_the_current_version(db, staff_user):
    draft = version_draft_create(actor=staff_user, note="Longer holds")
    assert (draft.number, draft.status) == (None, "draft")
    assert policy_current().number == 1

    version_draft_update(version=draft, actor=staff_user, changes={"holds": {"hours": 48}})
    published = version_publish(version=draft, actor=staff_user)

    assert (published.number, published.published_by, published.published) == (2, staff_user, True)
    assert policy_current().number == 2 and policy_current().hold_hours == 48
    assert Order(owner=staff_user).workflow_version == 2  # what placement writes into the order's INSERT


def test_a_published_version_never_changes(db, staff_user):
    published = version_publish_with({"holds.hours": 12})

    with pytest.raises(Conflict):
        version_draft_update(version=published, actor=staff_user, changes={"holds": {"hours": 1}})
    with pytest.raises(Conflict):
        version_publish(version=published, actor=staff_user)
    published.note = "sneaked in"
    with pytest.raises(VersionPublished):
        published.save()
    with pytest.raises(VersionPublished):
        published.delete()
    assert WorkflowVersion.objects.get(pk=published.pk).policy["holds"]["hours"] == 12


@pytest.mark.parametrize(("changes", "path", "message"), [
    ({"steps": {"payment": {"timeoutSeconds": 0}}}, "steps.payment.timeoutSeconds", "at least 0.01"),
    ({"steps": {"payment": {"attempts": 10_000}}}, "steps.payment.attempts", "at most 10"),
    ({"steps": {"payment": {"attempts": "3"}}}, "steps.payment.attempts", "Enter a whole number."),
    ({"steps": {"payment": {"attempts": 2.5}}}, "steps.payment.attempts", "Enter a whole number."),
    ({"steps": {"risk": {"enabled": "no"}}}, "steps.risk.enabled", "Enter true or false."),
    ({"holds": {"expiryAction": "forget"}}, "holds.expiryAction", "Choose one of: remind, cancel, approve."),
    ({"steps": {"payment": {"enabled": False}}}, "steps.payment.enabled", "cannot be switched off"),
    ({"steps": {"inventory": {"stateRetries": 1}}}, "steps.inventory.stateRetries", "does not retry"),
    ({"steps": {"fraud": {"attempts": 1}}}, "steps.fraud", "no step 'fraud'"),
    ({"steps": {"payment": {"backoff": {"speed": 2}}}}, "steps.payment.backoff.speed", "Unknown field."),
])
def test_a_bad_value_is_refused_by_its_path_and_nothing_is_written(db, staff_user, changes, path, message):
    draft = version_draft_create(actor=staff_user)
    before = WorkflowVersion.objects.get(pk=draft.pk).policy

    with pytest.raises(ValidationError) as refused:
        version_draft_update(version=draft, actor=staff_user, changes=changes)

    assert message in " ".join(refused.value.message_dict[path])
    assert WorkflowVersion.objects.get(pk=draft.pk).policy == before


def test_the_structure_is_the_codes_a_missing_step_or_value_is_refused(db, staff_user):
    policy = policy_default()
    incomplete = {**policy, "steps": {name: step for name, step in policy["steps"].items() if name != "shipping"}}

    with pytest.raises(ValidationError) as refused:
        version_draft_create(actor=staff_user, policy=incomplete)

    assert "steps.shipping.attempts" in refused.value.message_dict


def test_drafting_and_publishing_need_their_permissions(db, make_user, shop_staff):
    bare = make_user("bare@example.com", is_staff=True)
    with pytest.raises(PermissionRefused):
        version_draft_create(actor=bare)
    draft = version_draft_create(actor=shop_staff)  # the Shop staff group drafts…
    with pytest.raises(PermissionRefused):
        version_publish(version=draft, actor=shop_staff)  # …and someone with the permission publishes
    assert WorkflowVersion.objects.get(pk=draft.pk).status == "draft"



def test_a_shipped_order_waits_for_the_carrier_as_long_as_its_version_says(sync_pipeline, customer, place_order,
                                                                          settings):
    settings.PIPELINE = {**settings.PIPELINE, "TRACKING_WAIT_SCALE": 1}  # the machine's scale of production
    version_publish_with({"tracking.timeoutSeconds": 7200})
    order = Order.objects.get(pk=place_order(customer).pk)
    version_publish_with({"tracking.timeoutSeconds": 60})

    pipeline_advance(order.pk)  # a later run (the sweeper's, say) still waits the order's own two hours

    assert order.state == "shipped"
    runs = Schedule.objects.filter(name__startswith=f"pipeline-order-{order.pk}-at-").values_list("next_run", flat=True)
    assert runs and all(abs((due - order.updated_at).total_seconds() - 7200) < 1 for due in runs)


def test_drafts_published_at_the_same_moment_each_take_the_next_number(transactional_db):
    drafts = [version_draft_create(actor=None, note=f"Draft {n}") for n in range(4)]
    start, published, refused = threading.Barrier(len(drafts)), [], []

    def publish(draft: WorkflowVersion) -> None:
        try:
            start.wait()
            published.append(version_publish(version=draft, actor=None).number)
        except Exception as exc:  # what a publisher would be answered
            refused.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(draft,)) for draft in drafts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert refused == []
    assert sorted(published) == [2, 3, 4, 5]
    assert policy_current().number == version_current_number() == 5
