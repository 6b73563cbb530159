"""Holds: an owner, a deadline, and an expiry action that runs exactly once."""
import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from catalog.models import Product
from orders.models import Order
from orders.services import order_transition
from orders.states import Actor
from tests.review_rules import rule_create
from tests.workflow_versions import version_publish_with
from workflows.models import Hold
from workflows.review.holds import hold_assign, holds_expire
from workflows.tasks import sweep_stuck_orders


def held_order(place_order, customer, **rule):
    rule_create("Big orders", "total", "gte", "1000", reason="Over $1,000", **rule)
    order = place_order(customer, {"prod-001": 7})  # 1049.93
    assert Order.objects.get(pk=order.pk).state == "awaiting_approval"
    return order


def past_deadline(order) -> None:
    Hold.objects.filter(order=order).update(deadline=timezone.now() - timedelta(minutes=1))


def test_a_rule_sets_the_deadline_and_what_happens_then(sync_pipeline, customer, place_order):
    order = held_order(place_order, customer, hold_hours=2, expiry_action="cancel",
                       customer_message="We could not check this order in time.")

    hold = Hold.objects.get(order=order)
    assert (hold.expiry_action, hold.customer_message) == ("cancel", "We could not check this order in time.")
    assert timedelta(hours=1, minutes=59) < hold.deadline - hold.created_at <= timedelta(hours=2)


def test_at_the_deadline_cancel_tells_the_customer_and_releases_the_stock(
    sync_pipeline, customer, place_order, mailoutbox
):
    stock = Product.objects.get(public_id="prod-001").stock
    order = held_order(place_order, customer, expiry_action="cancel",
                       customer_message="We could not check this order in time.")
    past_deadline(order)

    assert holds_expire() == 1

    order = Order.objects.get(pk=order.pk)
    assert (order.state, order.failure_reason) == ("cancelled", "We could not check this order in time.")
    assert Product.objects.get(public_id="prod-001").stock == stock  # the 7 reserved are back
    event = order.events.latest("id")
    assert (event.transition, event.actor_kind) == ("auto_reject", Actor.SYSTEM)
    hold = Hold.objects.get(order=order)
    assert (hold.resolution, hold.expiry_outcome) == ("auto_reject", "Cancelled at the deadline")
    assert any("We could not check this order in time." in m.body for m in mailoutbox if "cancelled" in m.subject)


def test_at_the_deadline_approve_sends_the_order_on_to_payment(sync_pipeline, customer, place_order):
    order = held_order(place_order, customer, expiry_action="approve")
    past_deadline(order)

    assert holds_expire() == 1

    order = Order.objects.get(pk=order.pk)
    assert order.state == "delivered" and order.transaction_id
    assert order.events.filter(transition="auto_approve", actor_kind=Actor.SYSTEM).count() == 1


def test_at_the_deadline_remind_mails_the_assignee_and_approvers_once_and_the_order_waits(
    sync_pipeline, customer, place_order, make_user, mailoutbox, settings
):
    version_publish_with({"holds.expiryAction": "remind"})
    approver = make_user("approver@example.com", is_staff=True, is_superuser=True)
    order = held_order(place_order, customer)
    hold_assign(order_id=order.pk, assignee=approver, actor=approver)
    past_deadline(order)
    mailoutbox.clear()

    assert holds_expire() == 1
    assert holds_expire() == 0
    sweep_stuck_orders()

    reminders = [m for m in mailoutbox if "past its review deadline" in m.subject]
    assert [m.to for m in reminders] == [["approver@example.com"]]
    assert order.number in reminders[0].body and "Over $1,000" in reminders[0].body
    hold = Hold.objects.get(order=order)
    assert Order.objects.get(pk=order.pk).state == "awaiting_approval"
    assert hold.overdue and hold.expiry_outcome.startswith("Approvers reminded")


def test_a_person_deciding_first_leaves_nothing_for_the_deadline(sync_pipeline, customer, staff_user, place_order):
    order = held_order(place_order, customer, expiry_action="cancel", customer_message="Too late.")
    order_transition(order_id=order.pk, name="approve", actor=staff_user, actor_kind=Actor.STAFF)
    past_deadline(order)

    assert holds_expire() == 0
    hold = Hold.objects.get(order=order)
    assert (hold.resolution, hold.resolved_by, hold.expired_at) == ("approve", staff_user, None)
    assert Order.objects.get(pk=order.pk).state == "delivered"


def test_the_pipelines_own_hold_says_why_records_what_the_rules_say_and_only_reminds(
    sync_pipeline, customer, place_order, monkeypatch, settings
):
    version_publish_with({"holds.expiryAction": "approve", "steps.risk.attempts": 1,
                          "steps.risk.timeoutSeconds": 0.02})
    rule_create("Refuse Illinois", "ship_state", "eq", "IL", action="reject", customer_message="Not to IL.")
    settings.SIMULATOR = {**settings.SIMULATOR, "LATENCY_SCALE": 1, "RISK_LATENCY_MS": (500, 500),
                          "INVENTORY_LATENCY_MS": (0, 0), "NOTIFICATION_LATENCY_MS": (0, 0)}

    order = place_order(customer)

    hold = Hold.objects.get(order=order)
    assert (hold.system, hold.rule, hold.expiry_action) == (True, None, "remind")  # never decided by its deadline
    assert hold.reason.startswith("Risk screening was unavailable")
    assert (hold.evaluation.decision, hold.evaluation.deciding["name"]) == ("reject", "Refuse Illinois")
    past_deadline(order)
    holds_expire()
    assert Order.objects.get(pk=order.pk).state == "awaiting_approval"


@pytest.mark.django_db(transaction=True)
def test_two_expiry_runs_at_once_run_the_action_once(customer, place_order, settings, mailoutbox):
    """On SQLite the writes serialize; .ci/run repeats it on PostgreSQL, where the row locks decide."""
    settings.PIPELINE_TASKS_SYNC = True
    orders = [held_order(place_order, customer, expiry_action="cancel", customer_message="Too late.")]
    orders += [place_order(customer, {"prod-001": 7}) for _ in range(4)]
    for order in orders:
        past_deadline(order)
    barrier = threading.Barrier(2)
    ran: list[int] = []
    lock = threading.Lock()

    def run():
        try:
            barrier.wait()
            count = holds_expire()
        finally:
            connections.close_all()
        with lock:
            ran.append(count)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(ran) == 5
    for order in orders:
        assert order.events.filter(transition="auto_reject").count() == 1
        assert Order.objects.get(pk=order.pk).state == "cancelled"
    assert len([m for m in mailoutbox if "cancelled" in m.subject]) == 5


def test_only_approvers_assign_and_only_to_approvers(sync_pipeline, customer, place_order, make_user):
    from store.errors import PermissionRefused

    order = held_order(place_order, customer)
    clerk = make_user("clerk@example.com", is_staff=True)

    with pytest.raises(PermissionRefused):
        hold_assign(order_id=order.pk, assignee=clerk, actor=clerk)
    approver = make_user("boss@example.com", is_staff=True, is_superuser=True)
    with pytest.raises(PermissionRefused):
        hold_assign(order_id=order.pk, assignee=clerk, actor=approver)
    assert Hold.objects.get(order=order).assignee is None


def test_one_hold_that_fails_at_its_deadline_keeps_no_other_waiting(sync_pipeline, customer, place_order,
                                                                     monkeypatch):
    from django.db import OperationalError

    from workflows.review import holds

    first = held_order(place_order, customer, expiry_action="cancel", customer_message="Too late.")
    second = place_order(customer, {"prod-001": 7})
    past_deadline(first)
    past_deadline(second)
    first_hold = Hold.objects.get(order=first).pk
    real = holds.hold_expire

    def failing_once(*, hold_id, now=None):
        if hold_id == first_hold:
            raise OperationalError("database is locked")
        return real(hold_id=hold_id, now=now)

    monkeypatch.setattr(holds, "hold_expire", failing_once)
    assert holds.holds_expire() == 1
    assert (Order.objects.get(pk=first.pk).state, Order.objects.get(pk=second.pk).state) == ("awaiting_approval",
                                                                                          "cancelled")
    monkeypatch.setattr(holds, "hold_expire", real)
    assert holds.holds_expire() == 1 and Order.objects.get(pk=first.pk).state == "cancelled"
