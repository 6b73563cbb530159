"""Needs attention: one page of what a person must act on now, each order with its buttons;
failed tasks tied to their order leave the alarm once the order ends or is re-driven; django-q2's
resubmit says what it did. An order that ended after a failed payment or shipment stays until staff
dismiss it or the customer places it again; a payment whose confirmation was lost says why it waits."""
import re
import time
import uuid
from datetime import timedelta

import pytest
from auditlog.models import LogEntry as AuditEntry
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import Failure, OrmQ, Success

from backoffice.selectors.attention import needs_attention
from backoffice.selectors.dashboard import admin_dashboard
from orders.models import Order, OrderEvent
from orders.services import (
    LineRequest,
    ShippingAddress,
    order_place,
    order_transition,
    payment_pending_record,
    refund_create,
)
from orders.services.payment_pending import PAYMENT_PENDING_EVENT
from orders.services.tracking import tracking_update_apply
from providers.base import TrackingUpdate
from tests.backoffice.test_order_actions import action_url, texts
from tests.conftest import CARD_DECLINE, SHIPPING
from tests.order_states import order_move
from workflows.models import Hold
from workflows.pipeline import RefundInFull
from workflows.policy.selectors import policy_current

pytestmark = pytest.mark.django_db

ATTENTION = "/admin/orders/order/attention/"


def failed_task(order: Order | None, *, minutes_ago: int = 5, func: str = "workflows.tasks.pipeline_run",
                success: bool = False) -> Failure:
    """A task row as django-q2's worker saves it for a pipeline run of `order` that raised."""
    stopped = timezone.now() - timedelta(minutes=minutes_ago)
    model = Success if success else Failure
    return model.objects.create(
        id=uuid.uuid4().hex, name=f"pipeline-order-{order.pk}" if order else "notify-1-order.paid",
        func=func if order else "notifications.services.notification_send",
        args=(order.pk, None) if order else (1,), kwargs={}, result="TimeoutError: payment provider",
        started=stopped - timedelta(seconds=1), stopped=stopped, success=success,
    )


def stalled(order_in, state: str, provider: str) -> Order:
    order = order_in(state)
    return order_transition(order_id=order.pk, name="provider_unavailable", only_from=state, reason="timeout",
                            detail={"step": provider, "attempts": 3})


def rows(client) -> dict[str, set[str]]:
    """Each section's order numbers (failed tasks: their order's number)."""
    response = client.get(ATTENTION)
    assert response.status_code == 200
    return {item["section"].key: {order.number for order in item["section"].orders}
            | {task.order.number for task in item["section"].tasks if task.order}
            | {charge.order.number for charge in item["section"].charges}
            for item in response.context["sections"]}


@pytest.fixture
def superuser_client(client, make_user):
    client.force_login(make_user("root@example.com", is_staff=True, is_superuser=True))
    return client


def test_each_category_is_listed_and_empties_as_it_is_handled(superuser_client, order_in):
    client = superuser_client
    held = order_in("awaiting_approval")
    declined = order_in("payment_failed")
    stuck = order_in("new")
    Order.objects.filter(pk=stuck.pk).update(updated_at=F("updated_at") - timedelta(hours=2))
    delayed = stalled(order_in, "paying", "payment")
    with_task = order_in("validated")
    failed_task(with_task)

    assert rows(client) == {"held": {held.number}, "failed": {declined.number}, "ended": set(),
                            "confirmation": set(), "delivery": set(), "silent": set(), "stuck": {stuck.number},
                            "tasks": {with_task.number}, "delayed": {delayed.number}, "unwanted": set()}
    html = client.get(ATTENTION).content.decode()
    assert f'aria-label="Approve order {held.number}"' in html
    assert f'aria-label="Retry payment order {declined.number}"' in html
    assert f'aria-label="Re-drive payment order {delayed.number}"' in html
    assert f'href="/admin/orders/order/{with_task.pk}/change/"' in html

    response = client.post(f"{action_url(held, 'approve')}?next={ATTENTION}", follow=True)
    assert response.redirect_chain[-1][0] == ATTENTION
    assert texts(response) == [f"Order {held.number} approved: it is now processing payment."]
    client.post(f"{action_url(declined, 'retry_payment')}?next={ATTENTION}")
    client.post(f"{action_url(stuck, 'cancel')}?next={ATTENTION}", {"post": "yes", "note": "Never paid"})
    client.post(f"{action_url(delayed, 'redrive_payment')}?next={ATTENTION}")
    response = client.post(f"{action_url(with_task, 'cancel')}?next={ATTENTION}",
                           {"post": "yes", "note": "Customer asked"}, follow=True)
    assert texts(response)[-1] == f"Order {with_task.number} cancelled: it is now cancelled."

    assert rows(client) == {"held": set(), "failed": set(), "ended": set(), "confirmation": set(), "delivery": set(),
                            "silent": set(), "stuck": set(), "tasks": set(), "delayed": set(), "unwanted": set()}
    assert "Nothing needs attention now." in client.get(ATTENTION).content.decode()


def test_a_failed_task_leaves_the_alarm_when_its_order_ends_or_is_re_driven(superuser_client, order_in):
    ended, redriven, untied = order_in("validated"), stalled(order_in, "paying", "payment"), None
    failed_task(ended)
    failed_task(redriven)
    failed_task(untied)  # a task of no order stays until someone resubmits or deletes it
    assert admin_dashboard().failed_tasks == 3
    assert 'data-metric="failed-tasks">\n        <a href="/admin/django_q/failure/">3 failed tasks</a>' in \
        superuser_client.get("/admin/").content.decode()

    superuser_client.post(action_url(ended, "cancel"), {"post": "yes", "note": "Out of stock"})
    assert admin_dashboard().failed_tasks == 2
    superuser_client.post(action_url(redriven, "redrive_payment"))
    assert admin_dashboard().failed_tasks == 1
    assert rows(superuser_client)["tasks"] == set()

    # A failure after the re-drive is a new problem: it needs a person again.
    failed_task(redriven, minutes_ago=-1)
    assert admin_dashboard().failed_tasks == 2
    # django-q2's list keeps every failure, each with its order, and filters the settled ones.
    page = superuser_client.get("/admin/django_q/failure/", {"attention": "settled"})
    assert {row.name for row in page.context["cl"].result_list} == {f"pipeline-order-{ended.pk}",
                                                                   f"pipeline-order-{redriven.pk}"}
    assert f'<a href="/admin/orders/order/{ended.pk}/change/">{ended.number}</a>' in page.content.decode()
    assert superuser_client.get("/admin/django_q/failure/", {"attention": "open"}).context["cl"].result_count == 2
    task = Failure.objects.get(name=f"pipeline-order-{ended.pk}")
    task_page = superuser_client.get(f"/admin/django_q/failure/{task.pk}/change/").content.decode()
    assert f'<a href="/admin/orders/order/{ended.pk}/change/">{ended.number}</a>' in task_page


def test_resubmitting_failed_tasks_says_what_it_did(superuser_client, order_in, settings):
    order = order_in("validated")
    task = failed_task(order)
    response = superuser_client.post("/admin/django_q/failure/", {
        "action": "resubmit_selected", "_selected_action": [task.pk]}, follow=True)
    assert texts(response) == [f"Resubmitted 1 task to the queue and removed from this list (a new failure comes "
                               f"back here): pipeline-order-{order.pk}."]
    assert not Failure.objects.exists()

    done = failed_task(order, success=True)
    response = superuser_client.post("/admin/django_q/success/", {
        "action": "resubmit_selected", "_selected_action": [done.pk]}, follow=True)
    assert texts(response) == [f"Resubmitted 1 task to the queue: pipeline-order-{order.pk}."]


def test_staff_who_may_see_orders_but_not_tasks_see_the_order_not_the_task_page(client, make_user, order_in):
    viewer = make_user("viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="view_order"))
    client.force_login(viewer)
    order = order_in("validated")
    failed_task(order)
    html = client.get(ATTENTION).content.decode()
    assert f'href="/admin/orders/order/{order.pk}/change/"' in html
    assert "/admin/django_q/failure/" not in html
    assert "Cancel order" not in html  # no change_order: no buttons


def test_the_approval_queue_counts_orders(clerk_client, order_in):
    for _ in range(2):
        order_in("awaiting_approval")
    html = clerk_client.get("/admin/orders/orderawaitingapproval/").content.decode()
    assert "2 orders awaiting approval" in html


@pytest.mark.parametrize(("model", "success"), [("failure", False), ("success", True)])
def test_staff_who_may_only_see_tasks_cannot_resubmit_them(client, make_user, order_in, model, success):
    viewer = make_user("task-viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="django_q", codename=f"view_{model}"))
    client.force_login(viewer)
    task = failed_task(order_in("validated"), success=success)

    listed = client.get(f"/admin/django_q/{model}/")
    posted = client.post(f"/admin/django_q/{model}/", {"action": "resubmit_selected", "_selected_action": [task.pk]},
                         follow=True)

    assert listed.status_code == 200 and "resubmit_selected" not in listed.content.decode()
    assert posted.status_code == 200
    assert (Failure if model == "failure" else Success).objects.filter(pk=task.pk).exists()
    assert not OrmQ.objects.exists()  # nothing was queued


# --- Orders that ended after a failed payment or shipment ---------------------------------------

DISMISSED_TEXT = "Dealt with by staff: no longer listed as needing attention"


def declined(order_in, **kwargs) -> Order:
    """An order whose card was declined and whose retries were spent: the pipeline gave up on it."""
    order = order_in("payment_failed", **kwargs)
    return order_transition(order_id=order.pk, name="abandon_payment")


def section_of(client, key: str):
    """The rendered <section> of Needs attention with that key, as HTML."""
    html = client.get(ATTENTION).content.decode()
    start = html.index(f'data-section="{key}"')
    return html[start:html.index("</section>", start)]


def dismiss_url(order: Order) -> str:
    return reverse("admin:orders_order_dismiss", args=[order.pk])


def test_a_declined_order_is_listed_with_why_and_the_money_until_staff_dismiss_it(clerk_client, order_in):
    order = declined(order_in, items={"prod-001": 7})

    assert rows(clerk_client)["ended"] == {order.number}
    listed = section_of(clerk_client, "ended")
    assert "Ended after a failed payment or shipment (last 7 days) (1)" in listed
    assert "Card declined" in listed and "No charge was made." in listed
    assert "$1,049.93" in listed
    assert f'aria-label="Dismiss order {order.number}"' in listed

    response = clerk_client.post(f"{dismiss_url(order)}?next={ATTENTION}", follow=True)

    assert response.redirect_chain[-1][0] == ATTENTION
    assert texts(response) == [f"Order {order.number} dismissed: Needs attention no longer lists it."]
    assert rows(clerk_client)["ended"] == set()
    assert "Nothing needs attention now." in clerk_client.get(ATTENTION).content.decode()
    # Who dismissed it and when: on the order's timeline, its admin history and the staff actions.
    event = OrderEvent.objects.get(order=order, detail__has_key="dismissed")
    assert (event.transition, event.event_type, event.actor_kind, event.actor_email) == ("", "", "staff",
                                                                                         "clerk@example.com")
    assert (event.source_state, event.target_state) == ("failed", "failed")
    page = clerk_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert re.search(rf'<td class="field-what">\s*<p>{re.escape(DISMISSED_TEXT)}</p>', page)  # its timeline says so
    assert "Staff clerk@example.com" in page
    assert LogEntry.objects.get(object_id=str(order.pk)).change_message == "Dismissed from Needs attention."
    audit = AuditEntry.objects.get(object_pk=str(order.pk), additional_data__action="dismiss")
    assert audit.actor_email == "clerk@example.com"
    assert Order.objects.get(pk=order.pk).state == "failed"  # nothing else changed

    # It stays out: a second dismissal (another tab) writes nothing.
    again = clerk_client.post(dismiss_url(order), follow=True)
    assert texts(again) == [f"Order {order.number} was already dismissed; nothing changed."]
    assert OrderEvent.objects.filter(order=order, detail__has_key="dismissed").count() == 1
    assert rows(clerk_client)["ended"] == set()


def test_the_order_page_offers_dismiss_while_needs_attention_lists_the_order(clerk_client, order_in):
    order = declined(order_in)
    page = reverse("admin:orders_order_change", args=[order.pk])
    assert f'action="{dismiss_url(order)}"' in clerk_client.get(page).content.decode()

    response = clerk_client.post(dismiss_url(order), follow=True)

    assert response.redirect_chain[-1][0] == page
    assert texts(response) == [f"Order {order.number} dismissed: Needs attention no longer lists it."]
    assert f'action="{dismiss_url(order)}"' not in clerk_client.get(page).content.decode()


def test_dismissing_needs_change_order_a_post_and_the_csrf_token(make_user, shop_staff, order_in):
    order = declined(order_in)
    viewer = make_user("viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="view_order"))
    viewer_client = Client()
    viewer_client.force_login(viewer)

    assert "Dismiss" not in section_of(viewer_client, "ended")
    assert viewer_client.post(dismiss_url(order)).status_code == 403

    client = Client(enforce_csrf_checks=True)
    client.force_login(shop_staff)
    assert client.get(dismiss_url(order)).status_code == 405
    assert client.post(dismiss_url(order)).status_code == 403  # no CSRF token
    assert rows(viewer_client)["ended"] == {order.number}
    assert not OrderEvent.objects.filter(order=order, detail__has_key="dismissed").exists()

    token = client.get(ATTENTION).context["csrf_token"]
    assert client.post(dismiss_url(order), {"csrfmiddlewaretoken": str(token)}).status_code == 302
    assert rows(viewer_client)["ended"] == set()


def test_only_an_order_that_ended_can_be_dismissed(clerk_client, order_in):
    order = order_in("payment_failed")

    response = clerk_client.post(dismiss_url(order), follow=True)

    assert texts(response) == [f"Order {order.number} is payment failed: only an order that ended can be dismissed."]
    assert rows(clerk_client)["failed"] == {order.number}


def test_an_unconfirmed_payment_and_a_failed_shipment_are_listed_too(clerk_client, order_in):
    expired = order_transition(order_id=order_in("paying").pk, name="payment_expired",
                               reason="The payment was not confirmed within 15 minutes; no charge was made")
    ship_failed = order_in("ship_failed")
    RefundInFull("Shipping failed").run(ship_failed)  # the pipeline's compensation once its retries are spent
    # Not a payment or a shipment: the customer was told, nothing to chase.
    out_of_stock = order_transition(order_id=order_in("validating").pk, name="validation_failed",
                                    reason="Out of stock")
    by_staff = order_in("ship_failed")
    refund_create(order=by_staff, amount=None, reason="Customer asked", actor=None)  # a person already acted

    assert out_of_stock.failure_reason == "Out of stock"
    assert rows(clerk_client)["ended"] == {expired.number, ship_failed.number}
    listed = section_of(clerk_client, "ended")
    assert "The payment was not confirmed within 15 minutes; no charge was made" in listed
    assert f"Undeliverable</span> <span class=\"attention__reason\">Refunded ${ship_failed.total:,.2f}." in listed


def test_an_order_the_customer_placed_again_leaves_the_list(clerk_client, order_in, customer):
    first, second = declined(order_in), declined(order_in)
    assert rows(clerk_client)["ended"] == {first.number, second.number}

    # Try again and a payment link both place an order that names the one it replaces.
    retry = order_place(user=customer, lines=[LineRequest("prod-001", 2)], shipping=ShippingAddress(**SHIPPING),
                        card_number=CARD_DECLINE, retry_of=first).order
    assert Order.objects.get(pk=retry.pk).retry_of_id == first.pk

    assert rows(clerk_client)["ended"] == {second.number}
    # A retry that fails too is listed in its turn, until it is placed again or dismissed.
    failed_retry = order_move(retry, "payment_failed")
    order_transition(order_id=failed_retry.pk, name="abandon_payment")
    assert rows(clerk_client)["ended"] == {second.number, retry.number}


def test_an_ended_order_is_listed_for_the_days_the_setting_says(clerk_client, order_in, settings):
    order = declined(order_in)

    def ended_days_ago(days: float) -> None:
        moment = timezone.now() - timedelta(days=days)
        order.events.filter(transition="abandon_payment").update(created_at=moment)
        Order.objects.filter(pk=order.pk).update(updated_at=moment)

    ended_days_ago(6.9)
    assert rows(clerk_client)["ended"] == {order.number}
    ended_days_ago(7.1)
    assert rows(clerk_client)["ended"] == set()
    settings.STORE_ATTENTION_FAILED_DAYS = 10
    assert rows(clerk_client)["ended"] == {order.number}
    assert "(last 10 days)" in section_of(clerk_client, "ended")


def test_the_customer_does_not_see_the_dismissal_staff_do(order_in, customer_api, staff_api, clerk_client):
    order = declined(order_in)
    clerk_client.post(dismiss_url(order))

    theirs = customer_api.get(f"/api/orders/{order.pk}").json()["timeline"]
    staffs = staff_api.get(f"/api/orders/{order.pk}").json()["timeline"]

    assert len(staffs) == len(theirs) + 1
    assert staffs[-1]["detail"] == {"dismissed": DISMISSED_TEXT} and staffs[-1]["actor"] == "Staff clerk@example.com"
    assert all("dismissed" not in entry["detail"] for entry in theirs)


# --- Payments whose confirmation was lost ------------------------------------------------------


def waiting_for_the_bank(order_in, *, minutes: float) -> Order:
    """An order whose charge the provider answered "pending" `minutes` ago, with no confirmation since."""
    order = order_in("paying")
    payment_pending_record(order_id=order.pk, reference="txn_pending_1")
    moment = timezone.now() - timedelta(minutes=minutes)
    Order.objects.filter(pk=order.pk).update(charge_pending_since=moment, updated_at=moment)
    order.events.filter(event_type=PAYMENT_PENDING_EVENT).update(created_at=moment)
    return Order.objects.get(pk=order.pk)


def hhmm(moment) -> str:
    return f"{timezone.localtime(moment):%H:%M}"


def test_a_payment_whose_confirmation_was_lost_says_how_long_and_what_the_shop_does(clerk_client, order_in):
    # Version 1's: confirmation within 900 s, the provider asked after 120 s, every minute.
    fresh = waiting_for_the_bank(order_in, minutes=2)  # the shop has only begun asking the provider
    lost = waiting_for_the_bank(order_in, minutes=10)
    overdue = waiting_for_the_bank(order_in, minutes=40)  # past its deadline, and not updated for 30 minutes

    found = rows(clerk_client)
    assert found["confirmation"] == {lost.number, overdue.number}
    assert found["stuck"] == set()  # listed once, with its cause
    listed = section_of(clerk_client, "confirmation")
    since, deadline = lost.charge_pending_since, lost.charge_pending_since + timedelta(minutes=15)
    assert (f"Waiting for the payment provider's confirmation of charge <code>txn_pending_1</code> (3-D Secure or a "
            f'bank transfer) since <time datetime="{since.isoformat()}">{hhmm(since)}</time> (10') in listed
    assert (f"The shop asks the provider about it every minute from <time datetime="
            f'"{(since + timedelta(minutes=2)).isoformat()}">{hhmm(since + timedelta(minutes=2))}</time> and gives up '
            f'at <time datetime="{deadline.isoformat()}">{hhmm(deadline)}</time>') in listed
    assert "No callback from the provider came." in listed
    assert "has passed and the order still waits" in listed  # the overdue one
    assert f'aria-label="Check with the provider order {lost.number}"' in listed
    assert f'aria-label="Retry step order {overdue.number}"' in listed
    assert fresh.number not in listed

    # The order page says the same in words, beside the state and the buttons.
    page = clerk_client.get(reverse("admin:orders_order_change", args=[lost.pk])).content.decode()
    assert "Waiting for the payment provider's confirmation of charge <code>txn_pending_1</code>" in page
    assert f"gives up at <time datetime=\"{deadline.isoformat()}\">{hhmm(deadline)}</time>" in page


def test_check_with_the_provider_from_needs_attention_comes_back_with_what_it_found(clerk_client, order_in):
    lost = waiting_for_the_bank(order_in, minutes=10)

    response = clerk_client.post(
        f"{reverse('admin:orders_order_reconcile', args=[lost.pk])}?next={ATTENTION}", follow=True)

    assert response.redirect_chain[-1][0] == ATTENTION
    assert texts(response) == [f"The provider has no such charge (charge {lost.charge_key}); the order keeps "
                               "waiting until its deadline."]


# --- Cost --------------------------------------------------------------------------------------


def test_needs_attention_takes_eleven_queries_whatever_it_lists(order_in, django_assert_num_queries, settings):
    for n in range(2):
        problem = order_in("shipped")
        tracking_update_apply(order_id=problem.pk, tracking_number=problem.tracking_number, via="webhook",
                              update=TrackingUpdate(f"trk_cost_{n}", "exception", int(time.time()), "Address not found"))
        order_in("awaiting_approval")
        order_in("payment_failed")
        declined(order_in)
        waiting_for_the_bank(order_in, minutes=10)
        failed_task(stalled(order_in, "paying", "payment"))
        stuck = order_in("new")
        Order.objects.filter(pk=stuck.pk).update(updated_at=F("updated_at") - timedelta(hours=2))
        silent = order_in("shipped")
        Order.objects.filter(pk=silent.pk).update(updated_at=F("updated_at") - timedelta(days=30))

    settings.WORKFLOW_READ_CACHE_SECONDS = 60  # as a process that has read the current version within its cache
    policy_current()
    with django_assert_num_queries(11):
        sections = needs_attention()

    assert all(section.count == 2 for section in sections if section.key != "unwanted")


def test_a_parcel_the_carrier_is_silent_about_is_listed_after_the_set_days_and_a_problem_only_once(
        clerk_client, order_in, settings):
    settings.STORE_ATTENTION_CARRIER_SILENT_DAYS = 3
    silent, recent, problem = order_in("shipped"), order_in("shipped"), order_in("shipped")
    tracking_update_apply(order_id=problem.pk, tracking_number=problem.tracking_number, via="webhook",
                          update=TrackingUpdate("trk_problem", "exception", int(time.time()) - 5 * 86400,
                                                "Address not found"))
    Order.objects.filter(pk__in=[silent.pk, problem.pk]).update(updated_at=timezone.now() - timedelta(days=4))
    Order.objects.filter(pk=recent.pk).update(updated_at=timezone.now() - timedelta(days=2))

    listed = rows(clerk_client)
    html = clerk_client.get(ATTENTION).content.decode()

    assert listed["silent"] == {silent.number} and listed["delivery"] == {problem.number}
    assert "Carrier silent or parcel unknown for more than 3 days" in html
    assert f"tracking <code>{silent.tracking_number}</code>" in html


def test_held_orders_say_why_who_and_until_when_the_earliest_deadline_first(clerk_client, order_in, shop_staff):
    later, sooner = order_in("awaiting_approval"), order_in("awaiting_approval")
    Hold.objects.filter(order=sooner).update(deadline=timezone.now() - timedelta(minutes=5), assignee=shop_staff)

    html = clerk_client.get(ATTENTION).content.decode()

    held = html[html.index('data-section="held"'):html.index('data-section="failed"')]
    assert held.index(sooner.number) < held.index(later.number)
    assert "Big orders" in held and "<strong>overdue</strong> since" in held and "deadline " in held
    assert f"assigned to {shop_staff.email}" in held and "assigned to nobody" in held
