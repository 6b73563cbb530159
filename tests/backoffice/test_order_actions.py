"""The order page's buttons and the order list's bulk actions: each fires its transition
through orders.services and records the staff member on the order's timeline."""
import re
from html import unescape

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from backoffice.admin.actions import ORDER_ACTIONS
from backoffice.admin.orders import PAGE_BUTTONS
from notifications.services import notify
from orders.models import Order, OrderEvent
from orders.states import Actor


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
        ("checking_address", ["Retry step", "Cancel order"]),
        ("validating", ["Retry step", "Cancel order"]),
        ("screening", ["Retry step", "Cancel order"]),
        ("validated", ["Retry step", "Cancel order"]),
        ("awaiting_approval", ["Approve", "Reject", "Cancel order"]),
        ("paying", ["Retry step"]),
        ("paid", ["Retry step"]),
        ("payment_failed", ["Retry payment", "Cancel order"]),
        ("shipping", ["Retry step"]),
        ("ship_failed", ["Retry shipping"]),
        ("stalled", ["Re-drive address check", "Cancel order"]),  # stalled in the first step
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


@pytest.mark.parametrize(("state", "buttons"), [("awaiting_approval", ["Cancel order"]), ("paid", ["Retry step"])])
def test_staff_see_no_buttons_for_decisions_on_their_own_orders(client, staff_user, order_in, state, buttons):
    """Approving, rejecting and refunding one's own order is refused: the page does not offer them."""
    own = order_in(state, user=staff_user)
    client.force_login(staff_user)

    response = client.get(page_of(own))

    assert [item["action"].label for item in response.context["order_actions"]] == buttons
    assert response.context["refund_form"] is None
    assert "Refund" not in [item["action"].label for item in response.context["order_actions"]]


def test_the_order_page_shows_the_whole_order(clerk_client, order_in, customer):
    order = order_in("shipped")
    notify(order_id=order.pk, event_type="order.shipped")

    html = clerk_client.get(page_of(order)).content.decode()

    for text in [f"#{order.pk:06d}", "Casey Customer", "customer@example.com", "1 Market Street", "Springfield",
                 "62701", "4242", "txn_test_1", "TRK123", "UPS", "Mechanical Keyboard", "prod-001", "299.98",
                 "Order placed · total $299.98 · 2 items", "Start checking the address (New → Checking the address)",
                 "Shipped (Shipping → Shipped) · carrier UPS · tracking number TRK123",
                 "Customer customer@example.com", "System", f"Order #{order.pk:06d} shipped"]:
        assert text in html, text
    # The timeline in words: no transition's or detail's raw name.
    said = " ".join(re.findall(r'<td class="field-what">(.*?)</td>', html, re.S))
    assert "Payment approved (Processing payment → Paid)" in said
    for raw in ("start_validation", "shipping_confirmed", "tracking_number", "card_last4", "order.created"):
        assert raw not in said, raw


@pytest.mark.parametrize(
    ("state", "action", "transition", "target"),
    [
        ("awaiting_approval", "approve", "approve", "paying"),
        ("awaiting_approval", "reject", "reject", "cancelled"),
        ("awaiting_approval", "cancel", "cancel", "cancelled"),
        ("validated", "cancel", "cancel", "cancelled"),
        ("new", "cancel", "cancel", "cancelled"),
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

    assert {name for name, _ in clerk_actions} == {"", "approve_selected", "reject_selected", "cancel_selected",
                                                     "redrive_selected"}
    assert viewer_page.context["action_form"] is None


# --- reject and cancel ask first --------------------------------------------------------------

@pytest.mark.parametrize("action", ["reject", "cancel"])
def test_reject_and_cancel_ask_for_a_note_first_and_change_nothing(clerk_client, order_in, action):
    order = order_in("awaiting_approval")
    events = OrderEvent.objects.filter(order=order).count()
    button = f'<form method="get" action="{action_url(order, action)}"'

    assert button in clerk_client.get(page_of(order)).content.decode()
    for first_click in (clerk_client.get(action_url(order, action)),
                        clerk_client.post(action_url(order, action), {"note": "Too quick", "customer_message": "x"})):
        html = first_click.content.decode()
        assert first_click.status_code == 200
        assert "Are you sure?" in html and order.number in html
        for field in ('name="note"', 'name="customer_message"', 'name="post" value="yes"', "csrfmiddlewaretoken"):
            assert field in html, field
    assert Order.objects.get(pk=order.pk).state == "awaiting_approval"
    assert OrderEvent.objects.filter(order=order).count() == events


def test_the_confirmation_says_what_the_customer_reads_without_a_message(clerk_client, order_in):
    order = order_in("awaiting_approval")

    reject = clerk_client.get(action_url(order, "reject")).content.decode()
    cancel = clerk_client.get(action_url(order, "cancel")).content.decode()

    assert "\u201cWe could not accept this order\u201d" in reject
    assert "\u201cCancelled by the shop\u201d" in cancel
    assert "Never shown or sent to the customer." in reject


def test_the_confirmation_needs_the_csrf_token(shop_staff, order_in):
    client = Client(enforce_csrf_checks=True)
    client.force_login(shop_staff)
    order = order_in("awaiting_approval")

    page = client.get(action_url(order, "reject"))
    forged = client.post(action_url(order, "reject"), {"post": "yes", "note": "Fraud"})
    assert forged.status_code == 403
    assert Order.objects.get(pk=order.pk).state == "awaiting_approval"

    genuine = client.post(action_url(order, "reject"), {"post": "yes", "note": "Fraud",
                                                        "csrfmiddlewaretoken": str(page.context["csrf_token"])})
    assert genuine.status_code == 302
    assert Order.objects.get(pk=order.pk).state == "cancelled"


def test_a_note_too_long_shows_the_confirmation_again(clerk_client, order_in):
    order = order_in("awaiting_approval")

    response = clerk_client.post(action_url(order, "reject"), {"post": "yes", "note": "x" * 1001})

    assert response.status_code == 200
    assert "at most 1000 characters" in response.content.decode()
    assert Order.objects.get(pk=order.pk).state == "awaiting_approval"


def test_the_confirmation_is_refused_to_staff_who_may_not_act(make_user, order_in):
    client = viewer_client(make_user)
    order = order_in("awaiting_approval")

    assert client.get(action_url(order, "reject")).status_code == 403
    assert client.get(action_url(order, "cancel")).status_code == 403


def test_confirmed_reject_keeps_the_note_for_staff_and_tells_the_customer_the_message(clerk_client, order_in):
    order = order_in("awaiting_approval")

    response = clerk_client.post(action_url(order, "reject"), {
        "post": "yes", "note": "Address looks fake", "customer_message": "Please call us to confirm your address.",
    }, follow=True)

    order = Order.objects.get(pk=order.pk)
    assert (order.state, order.failure_reason) == ("cancelled", "Please call us to confirm your address.")
    assert OrderEvent.objects.filter(order=order).latest("id").detail["note"] == "Address looks fake"
    assert "internal note (staff only): “Address looks fake”" in response.content.decode()


def test_reject_from_the_queue_asks_then_goes_back_to_the_queue(clerk_client, order_in):
    order = order_in("awaiting_approval")
    queue = reverse("admin:orders_orderawaitingapproval_changelist")
    from_queue = action_url(order, "reject") + f"?next={queue}"

    asked = clerk_client.post(from_queue, {"action": "", "index": 0})  # the queue's row button
    assert asked.status_code == 200 and f'href="{queue}"' in asked.content.decode()  # "No, take me back"
    assert Order.objects.get(pk=order.pk).state == "awaiting_approval"

    done = clerk_client.post(from_queue, {"post": "yes", "note": "Fraud"})
    assert done["Location"] == queue
    assert Order.objects.get(pk=order.pk).state == "cancelled"


@pytest.mark.parametrize("action", ["reject_selected", "cancel_selected"])
def test_bulk_reject_and_cancel_list_the_orders_and_ask_first(clerk_client, order_in, action):
    held, shipped = order_in("awaiting_approval"), order_in("shipped")

    response = bulk(clerk_client, action, [held, shipped])

    html = response.content.decode()
    assert response.status_code == 200 and "Are you sure?" in html
    assert held.number in html and shipped.number in html
    assert "now: left as it is" in html  # the shipped order will be refused
    for field in (f'name="action" value="{action}"', f'name="_selected_action" value="{held.pk}"',
                  f'name="_selected_action" value="{shipped.pk}"', 'name="note"', 'name="customer_message"'):
        assert field in html, field
    assert [Order.objects.get(pk=o.pk).state for o in (held, shipped)] == ["awaiting_approval", "shipped"]


def test_bulk_cancel_puts_the_note_on_every_order(clerk_client, order_in):
    orders = [order_in("new"), order_in("validated")]

    bulk(clerk_client, "cancel_selected", orders, post="yes", note="Duplicate test orders")

    for order in orders:
        order = Order.objects.get(pk=order.pk)
        assert (order.state, order.failure_reason) == ("cancelled", "Cancelled by the shop")
        assert OrderEvent.objects.filter(order=order).latest("id").detail["note"] == "Duplicate test orders"


REFUND_MISSING = ("To refund orders you need the permission “Can refund orders” (orders.refund_order), which "
                  "a superuser (one of the shop's owners) can grant you with the role “Refunds”.")


def heading_of(response) -> tuple[str, list[str]]:
    """The heading over the order's actions and the sentences under it about what is missing."""
    html = unescape(response.content.decode())
    heading = re.search(r'<h2 id="order-actions-title"[^>]*>([^<]*)</h2>', html).group(1)
    return heading, re.findall(r'data-testid="order-actions-missing">([^<]*)</p>', html)


@pytest.mark.parametrize(("state", "heading", "missing"), [
    ("delivered", "Nothing you can do from “Delivered”", [REFUND_MISSING]),
    ("paid", "What you can do from “Paid”: Retry step, Correct shipping address", [REFUND_MISSING]),
    ("awaiting_approval",
     "What you can do from “Awaiting approval”: Approve, Reject, Cancel order, Correct shipping address", []),
    ("refunded", "Nothing to do from “Refunded”", []),
])
def test_the_heading_tells_shop_staff_what_they_may_do_and_which_permission_they_lack(
        clerk_client, order_in, state, heading, missing):
    assert heading_of(clerk_client.get(page_of(order_in(state)))) == (heading, missing)


def test_with_the_refund_permission_the_heading_offers_the_refund(refunder_client, order_in):
    response = refunder_client.get(page_of(order_in("delivered")))

    assert heading_of(response) == ("What you can do from “Delivered”: Refund", [])
    assert response.context["refund_form"] is not None


def test_the_heading_names_every_permission_lacking_once(make_user, order_in):
    viewer = viewer_client(make_user)

    heading, missing = heading_of(viewer.get(page_of(order_in("awaiting_approval"))))

    assert heading == "Nothing you can do from “Awaiting approval”"
    assert missing == [
        "To approve or reject held orders you need the permission “Can approve or reject held orders” "
        "(orders.approve_order), which a superuser (one of the shop's owners) can grant you with the role "
        "“Shop staff”.",
        "To cancel other customers' orders you need the permission “Can change order” (orders.change_order), "
        "which a superuser (one of the shop's owners) can grant you with the role “Shop staff”.",
    ]


def test_on_their_own_order_staff_read_that_a_colleague_decides(client, staff_user, order_in):
    client.force_login(staff_user)

    response = client.get(page_of(order_in("awaiting_approval", user=staff_user)))

    assert heading_of(response)[0] == ("What you can do from “Awaiting approval”: Cancel order, "
                                       "Correct shipping address")
    assert "Approve, Reject: not on your own order; a colleague decides." in response.content.decode()


@pytest.mark.parametrize("state", ["new", "awaiting_approval", "paying", "paid", "payment_failed", "ship_failed",
                                   "stalled", "shipped", "delivered", "cancelled", "failed", "refunded"])
def test_the_heading_lists_exactly_what_the_page_offers(refunder_client, order_in, state):
    response = refunder_client.get(page_of(order_in(state)))

    offered = [item["action"].label for item in response.context["order_actions"]]
    offered += ["Refund"] if response.context["refund_form"] is not None else []
    offered += [button.label for key, button in PAGE_BUTTONS.items() if response.context[key]]
    assert list(response.context["order_options"].may) == offered
