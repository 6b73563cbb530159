"""Needs attention: one page of what a person must act on now, each order with its buttons;
failed tasks tied to their order leave the alarm once the order ends or is re-driven; django-q2's
resubmit says what it did."""
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db.models import F
from django.utils import timezone
from django_q.models import Failure, OrmQ, Success

from backoffice.selectors.dashboard import admin_dashboard
from orders.models import Order
from orders.services import order_transition
from tests.backoffice.test_order_actions import action_url, texts

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

    assert rows(client) == {"held": {held.number}, "failed": {declined.number}, "stuck": {stuck.number},
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

    assert rows(client) == {"held": set(), "failed": set(), "stuck": set(), "tasks": set(), "delayed": set(),
                            "unwanted": set()}
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
