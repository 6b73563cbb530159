"""The order page's buttons and the order list's bulk actions: each fires its transition
through orders.services and records the staff member on the order's timeline."""
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from orders.admin import ORDER_ACTIONS
from orders.models import Order, OrderEvent
from orders.states import Actor
from workflows.notifications import notify


def page_of(order: Order) -> str:
    return reverse("admin:orders_order_change", args=[order.pk])


def action_url(order: Order, action: str) -> str:
    return reverse("admin:orders_order_action", args=[order.pk, action])


def texts(response) -> list[str]:
    """The messages the admin showed after the redirect (`follow=True` requests)."""
    return [str(message) for message in response.context["messages"]]


def viewer_client(make_user):
    """A client signed in as staff who may look at orders and do nothing else."""
    viewer = make_user("viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="view_order"))
    client = Client()
    client.force_login(viewer)
    return client


@pytest.mark.parametrize(
    ("state", "buttons"),
    [
        ("new", ["Retry step", "Cancel order"]),
        ("validating", ["Retry step"]),
        ("validated", ["Retry step", "Cancel order"]),
        ("awaiting_approval", ["Approve", "Reject", "Cancel order"]),
        ("paying", ["Retry step"]),
        ("paid", ["Retry step"]),
        ("payment_failed", ["Retry payment"]),
        ("shipping", ["Retry step"]),
        ("ship_failed", ["Retry shipping"]),
        ("shipped", ["Retry step"]),
        ("delivered", []),
        ("cancelled", []),
        ("failed", []),
        ("refunded", []),
    ],
)
def test_the_order_page_offers_the_buttons_of_its_state(clerk_client, order_in, state, buttons):
    order = order_in(state)

    response = clerk_client.get(page_of(order))

    html = response.content.decode()
    assert response.status_code == 200
    assert [item["action"].label for item in response.context["order_actions"]] == buttons
    for item in response.context["order_actions"]:
        assert f'action="{item["url"]}"' in html
    assert f'data-testid="order-state">{order.get_state_display()}</span>' in html
    assert response.context["refund_form"] is None  # Shop staff may not refund


def test_the_order_page_shows_the_whole_order(clerk_client, order_in, customer):
    order = order_in("shipped")
    notify(order_id=order.pk, event_type="order.shipped")

    html = clerk_client.get(page_of(order)).content.decode()

    for text in ["#%06d" % order.pk, "Casey Customer", "customer@example.com", "1 Market Street", "Springfield",
                 "62701", "4242", "txn_test_1", "TRK123", "UPS", "Mechanical Keyboard", "prod-001", "299.98",
                 "order.created", "new → validating (start_validation)", "shipping → shipped (shipping_confirmed)",
                 "Customer customer@example.com", "System", "Order #%06d shipped" % order.pk]:
        assert text in html, text


@pytest.mark.parametrize(
    ("state", "action", "transition", "target"),
    [
        ("awaiting_approval", "approve", "approve", "paying"),
        ("awaiting_approval", "reject", "reject", "cancelled"),
        ("awaiting_approval", "cancel", "cancel_validated", "cancelled"),
        ("validated", "cancel", "cancel_validated", "cancelled"),
        ("new", "cancel", "cancel_order", "cancelled"),
        ("payment_failed", "retry_payment", "retry_payment", "paying"),
        ("ship_failed", "retry_shipping", "retry_shipping", "shipping"),
    ],
)
def test_each_button_fires_its_transition_as_the_staff_member(
    clerk_client, shop_staff, order_in, state, action, transition, target
):
    order = order_in(state)
    confirmation = {"post": "yes", "note": "Checked by phone"} if ORDER_ACTIONS[action].confirm else {}

    response = clerk_client.post(action_url(order, action), confirmation, follow=True)

    assert response.redirect_chain == [(page_of(order), 302)]
    order = Order.objects.get(pk=order.pk)
    assert order.state == target
    assert texts(response) == [f"Order {order.number} {ORDER_ACTIONS[action].done}: "
                               f"it is now {order.get_state_display().lower()}."]
    event = OrderEvent.objects.filter(order=order).latest("id")
    assert (event.transition, event.source_state, event.target_state) == (transition, state, target)
    assert (event.actor, event.actor_kind) == (shop_staff, Actor.STAFF)
    assert LogEntry.objects.filter(object_id=str(order.pk), user=shop_staff).exists()


def test_retry_step_hands_a_stuck_order_back_to_the_pipeline(
    clerk_client, shop_staff, order_in, django_capture_on_commit_callbacks
):
    order = order_in("paying")  # as if the payment task had been lost

    with django_capture_on_commit_callbacks(execute=True):
        response = clerk_client.post(action_url(order, "retry_step"), follow=True)

    assert "handed back to the pipeline" in texts(response)[0]
    assert Order.objects.get(pk=order.pk).state == "delivered"  # the pipeline ran (in-process in tests)


def test_a_button_whose_state_has_passed_is_refused_with_a_message(clerk_client, order_in):
    order = order_in("paid")
    events = OrderEvent.objects.filter(order=order).count()

    approve = clerk_client.post(action_url(order, "approve"), follow=True)
    retry = clerk_client.post(action_url(order, "retry_payment"), follow=True)

    assert texts(approve) == [f"Order {order.number} is paid: it cannot be approved now."]
    assert texts(retry) == [f"Order {order.number} is paid: it cannot be retried now."]
    assert Order.objects.get(pk=order.pk).state == "paid"
    assert OrderEvent.objects.filter(order=order).count() == events


def test_buttons_answer_post_only_and_unknown_ones_404(clerk_client, order_in):
    order = order_in("awaiting_approval")

    assert clerk_client.get(action_url(order, "approve")).status_code == 405
    assert clerk_client.put(action_url(order, "reject")).status_code == 405
    assert clerk_client.post(action_url(order, "explode")).status_code == 404
    assert clerk_client.post(reverse("admin:orders_order_action", args=[999999, "approve"])).status_code == 404
    assert Order.objects.get(pk=order.pk).state == "awaiting_approval"


def test_buttons_need_the_csrf_token(shop_staff, order_in):
    client = Client(enforce_csrf_checks=True)
    client.force_login(shop_staff)
    order = order_in("awaiting_approval")

    forged = client.post(action_url(order, "approve"))
    page = client.get(page_of(order))
    token = page.context["csrf_token"]
    genuine = client.post(action_url(order, "approve"), {"csrfmiddlewaretoken": str(token)})

    assert forged.status_code == 403
    assert genuine.status_code == 302
    assert Order.objects.get(pk=order.pk).state == "paying"


def test_staff_who_may_only_look_get_no_buttons_and_a_403(make_user, order_in):
    client = viewer_client(make_user)
    order = order_in("awaiting_approval")

    page = client.get(page_of(order))
    responses = [client.post(action_url(order, action)) for action in ("approve", "reject", "cancel")]

    assert page.status_code == 200 and page.context["order_actions"] == []
    assert [response.status_code for response in responses] == [403, 403, 403]
    assert Order.objects.get(pk=order.pk).state == "awaiting_approval"


def test_the_next_parameter_only_leads_back_into_this_site(clerk_client, order_in):
    order, other = order_in("awaiting_approval"), order_in("awaiting_approval")
    queue = reverse("admin:orders_orderawaitingapproval_changelist")

    inside = clerk_client.post(action_url(order, "approve") + f"?next={queue}")
    outside = clerk_client.post(action_url(other, "approve") + "?next=https://evil.example.com/")

    assert inside["Location"] == queue
    assert outside["Location"] == page_of(other)


def bulk(client, action: str, orders: list[Order], **confirmation):
    """The bulk action as the changelist posts it, or (with `post="yes"`, the note…) as its
    confirmation page does."""
    selected = {"action": action, "_selected_action": [order.pk for order in orders]}
    return client.post(
        reverse("admin:orders_order_changelist"),
        {**selected, **confirmation} if confirmation else {**selected, "index": 0},
        follow=True,
    )


def test_bulk_approve_reports_what_succeeded_and_what_was_refused(clerk_client, shop_staff, order_in):
    held = [order_in("awaiting_approval"), order_in("awaiting_approval")]
    paid = order_in("paid")

    response = bulk(clerk_client, "approve_selected", [*held, paid])

    assert response.redirect_chain == [(reverse("admin:orders_order_changelist"), 302)]
    assert [Order.objects.get(pk=order.pk).state for order in held] == ["paying", "paying"]
    assert Order.objects.get(pk=paid.pk).state == "paid"
    success, refused = texts(response)
    assert success == f"2 orders approved: {held[0].number}, {held[1].number}."
    assert refused == f"1 order refused: Order {paid.number} is paid: it cannot be approved now."
    assert set(OrderEvent.objects.filter(transition="approve").values_list("actor", flat=True)) == {shop_staff.pk}
    assert LogEntry.objects.filter(user=shop_staff).count() == 2


def test_bulk_reject_and_cancel(clerk_client, order_in):
    held, new, shipped = order_in("awaiting_approval"), order_in("new"), order_in("shipped")

    rejected = bulk(clerk_client, "reject_selected", [held, new], post="yes")
    cancelled = bulk(clerk_client, "cancel_selected", [new, shipped], post="yes")

    assert Order.objects.get(pk=held.pk).state == "cancelled"
    assert texts(rejected) == [f"1 order rejected: {held.number}.",
                               f"1 order refused: Order {new.number} is new: it cannot be rejected now."]
    assert Order.objects.get(pk=new.pk).state == "cancelled"
    assert Order.objects.get(pk=shipped.pk).state == "shipped"
    assert texts(cancelled)[1] == f"1 order refused: Order {shipped.number} is shipped: it cannot be cancelled now."


def test_the_bulk_actions_offered_follow_permissions(clerk_client, make_user):
    clerk_actions = set(clerk_client.get(reverse("admin:orders_order_changelist")).context["action_form"]
                        .fields["action"].choices)
    viewer_page = viewer_client(make_user).get(reverse("admin:orders_order_changelist"))

    assert {name for name, _ in clerk_actions} == {"", "approve_selected", "reject_selected", "cancel_selected"}
    assert viewer_page.context["action_form"] is None
