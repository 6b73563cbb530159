"""The approval queue: held orders only, the earliest deadline first, approved or rejected from the list."""
from datetime import timedelta

from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderEvent
from orders.services import order_transition
from orders.states import Actor
from workflows.models import Hold

QUEUE = "/admin/orders/orderawaitingapproval/"


def test_the_queue_lists_held_orders_by_deadline_with_why_who_and_how_long(clerk_client, order_in, make_older):
    later = make_older(order_in("awaiting_approval", items={"prod-001": 7}), days=3)  # older, but a later deadline
    sooner = order_in("awaiting_approval")
    Hold.objects.filter(order=later).update(deadline=timezone.now() + timedelta(hours=20))
    Hold.objects.filter(order=sooner).update(created_at=timezone.now() - timedelta(days=2),
                                             deadline=timezone.now() + timedelta(hours=1))
    order_in("paid")
    order_in("validated")

    response = clerk_client.get(QUEUE)

    html = response.content.decode()
    rows = list(response.context["cl"].result_list)
    assert [order.pk for order in rows] == [sooner.pk, later.pk]
    assert [(order.item_count, order.hold.reason) for order in rows] == [(2, "Big orders"), (7, "Big orders")]
    assert "rule “Big orders”" in html and "nobody" in html
    assert "$1,049.93" in html  # 7 × 149.99
    assert "2\xa0days" in html  # how long the sooner one has waited
    assert f"Approve order {later.number}" in html and f"Reject order {later.number}" in html
    assert reverse("admin:orders_order_action", args=[later.pk, "approve"]) + f"?next={QUEUE}" in html


def test_an_overdue_hold_says_so_and_staff_assign_held_orders_to_themselves(clerk_client, shop_staff, order_in):
    order = order_in("awaiting_approval")
    Hold.objects.filter(order=order).update(deadline=timezone.now() - timedelta(minutes=5))

    assert "Overdue" in clerk_client.get(QUEUE).content.decode()
    response = clerk_client.post(QUEUE, {"action": "assign_to_me", "_selected_action": [order.pk], "index": 0},
                                 follow=True)

    assert [str(m) for m in response.context["messages"]] == ["1 held order assigned to you."]
    assert Hold.objects.get(order=order).assignee == shop_staff
    assert shop_staff.email in response.content.decode()


def test_approving_from_the_queue_releases_the_order_to_payment(clerk_client, shop_staff, order_in):
    order = order_in("awaiting_approval")

    response = clerk_client.post(reverse("admin:orders_order_action", args=[order.pk, "approve"]) + f"?next={QUEUE}",
                                 follow=True)

    assert response.redirect_chain == [(QUEUE, 302)]
    assert [str(m) for m in response.context["messages"]] == [
        f"Order {order.number} approved: it is now processing payment."
    ]
    assert response.context["cl"].result_count == 0
    event = OrderEvent.objects.filter(order=order).latest("id")
    assert (event.transition, event.actor, event.actor_kind) == ("approve", shop_staff, Actor.STAFF)
    assert Order.objects.get(pk=order.pk).state == "paying"


def test_bulk_reject_from_the_queue(clerk_client, order_in):
    held = [order_in("awaiting_approval"), order_in("awaiting_approval")]

    selected = {"action": "reject_selected", "_selected_action": [o.pk for o in held]}
    asked = clerk_client.post(QUEUE, {**selected, "index": 0})
    assert [Order.objects.get(pk=o.pk).state for o in held] == ["awaiting_approval", "awaiting_approval"]
    assert asked.status_code == 200 and "Are you sure?" in asked.content.decode()

    done = clerk_client.post(QUEUE, {**selected, "post": "yes", "note": "Same stolen card"})

    assert done["Location"] == QUEUE
    assert [Order.objects.get(pk=o.pk).state for o in held] == ["cancelled", "cancelled"]
    assert clerk_client.get(QUEUE).context["cl"].result_count == 0


def test_an_order_that_left_the_queue_is_not_in_it(clerk_client, order_in):
    order = order_in("awaiting_approval")
    order_transition(order_id=order.pk, name="approve")

    assert clerk_client.get(QUEUE).context["cl"].result_count == 0
    response = clerk_client.get(reverse("admin:orders_orderawaitingapproval_change", args=[order.pk]))
    assert response.status_code == 302  # "doesn't exist" redirect: it is no longer held



def test_staff_who_may_not_approve_see_the_queue_without_buttons(make_user, order_in):
    viewer = make_user("viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="view_order"))
    client = Client()
    client.force_login(viewer)
    order = order_in("awaiting_approval")

    response = client.get(QUEUE)

    assert [o.pk for o in response.context["cl"].result_list] == [order.pk]
    assert f"Approve order {order.number}" not in response.content.decode()
    assert response.context["action_form"] is None


def test_the_queue_offers_no_decision_on_the_staff_members_own_order(clerk_client, shop_staff, order_in):
    theirs = order_in("awaiting_approval")
    own = order_in("awaiting_approval", user=shop_staff)

    html = clerk_client.get(QUEUE).content.decode()

    assert f"Approve order {theirs.number}" in html and f"Reject order {theirs.number}" in html
    assert f"Approve order {own.number}" not in html and f"Reject order {own.number}" not in html
    assert "your own order: a colleague decides" in html
