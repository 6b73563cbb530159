"""Staff's words stay with staff: when staff reject or cancel a customer's order, on any
surface, their internal note is on the order's timeline for staff, and the customer is
shown and e-mailed only the message meant for them, or a neutral sentence without one."""
import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from notifications.models import Notification
from orders.models import Order
from tests.order_states import order_move

NOTE = "Suspicious: 20 light bars to a new account"
MESSAGE = "Sorry, we cannot deliver to this address."


def _web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api_reject(jwt_client, staff, order, message):
    return jwt_client(staff).post(f"/api/orders/{order.pk}/reject", {"note": NOTE, "customerMessage": message},
                                  format="json")


def _api_cancel(jwt_client, staff, order, message):
    return jwt_client(staff).post(f"/api/orders/{order.pk}/cancel", {"note": NOTE, "customerMessage": message},
                                  format="json")


def _admin(action):
    def act(jwt_client, staff, order, message):
        return _web(staff).post(reverse("admin:orders_order_action", args=[order.pk, action]),
                                {"post": "yes", "note": NOTE, "customer_message": message})
    return act


def _admin_bulk(action):
    def act(jwt_client, staff, order, message):
        return _web(staff).post(reverse("admin:orders_order_changelist"), {
            "action": action, "_selected_action": [order.pk], "post": "yes", "note": NOTE, "customer_message": message,
        })
    return act


def _storefront_cancel(jwt_client, staff, order, message):
    return _web(staff).post(reverse("orders:order_cancel", args=[order.pk]),
                            {"note": NOTE, "customer_message": message})


# surface: (how staff act, what the customer reads without a message)
SURFACES = {
    "api-reject": (_api_reject, "We could not accept this order"),
    "api-cancel": (_api_cancel, "Cancelled by the shop"),
    "admin-reject": (_admin("reject"), "We could not accept this order"),
    "admin-cancel": (_admin("cancel"), "Cancelled by the shop"),
    "admin-bulk-reject": (_admin_bulk("reject_selected"), "We could not accept this order"),
    "admin-bulk-cancel": (_admin_bulk("cancel_selected"), "Cancelled by the shop"),
    "storefront-cancel": (_storefront_cancel, "Cancelled by the shop"),
}


@pytest.fixture
def held_order(place_order, customer):
    return order_move(place_order(customer), "awaiting_approval")


@pytest.mark.parametrize("with_message", [True, False], ids=["with-message", "no-message"])
@pytest.mark.parametrize("surface", SURFACES)
def test_the_customer_never_sees_the_staff_note(
    surface, with_message, held_order, customer, staff_user, jwt_client, django_capture_on_commit_callbacks
):
    act, neutral = SURFACES[surface]
    told = MESSAGE if with_message else neutral

    with django_capture_on_commit_callbacks(execute=True):
        response = act(jwt_client, staff_user, held_order, MESSAGE if with_message else "")

    assert response.status_code in (200, 302), response.content
    assert Order.objects.get(pk=held_order.pk).state == "cancelled"
    # The customer: the API, the order pages, the notifications and the e-mail.
    api = jwt_client(customer)
    detail = api.get(f"/api/orders/{held_order.pk}")
    seen = [
        detail.content.decode(),
        api.get("/api/orders").content.decode(),
        _web(customer).get(reverse("orders:order_detail", args=[held_order.pk])).content.decode(),
        _web(customer).get(reverse("orders:order_status", args=[held_order.pk])).content.decode(),
        _web(customer).get(reverse("notifications:notification_list")).content.decode(),
        *(f"{n.title} {n.body}" for n in Notification.objects.filter(order=held_order)),
        *(f"{m.subject} {m.body}" for m in mail.outbox),
    ]
    assert detail.json()["failureReason"] == told
    assert [m.to for m in mail.outbox] == [[customer.email]]
    assert told in mail.outbox[0].body
    for text in seen:
        assert NOTE not in text
        assert "Suspicious" not in text
    # Staff: the note is on the order's timeline, in the API and in the admin.
    staff_timeline = jwt_client(staff_user).get(f"/api/orders/{held_order.pk}").json()["timeline"]
    assert staff_timeline[-1]["detail"]["note"] == NOTE
    admin_page = _web(staff_user).get(reverse("admin:orders_order_change", args=[held_order.pk])).content.decode()
    assert f"internal note (staff only): “{NOTE}”" in admin_page


def test_a_customer_cancelling_their_own_order_is_told_their_own_reason(customer, jwt_client, place_order):
    order = place_order(customer)

    response = jwt_client(customer).post(f"/api/orders/{order.pk}/cancel", {"reason": "Ordered twice"},
                                         format="json")

    assert response.status_code == 200
    assert response.json()["failureReason"] == "Ordered twice"


@pytest.mark.parametrize("endpoint", ["reject", "cancel"])
def test_staff_cannot_send_a_bare_reason_that_would_reach_the_customer(endpoint, held_order, staff_user, jwt_client):
    """`reason` once went to the customer word for word: staff now say which words are which."""
    response = jwt_client(staff_user).post(f"/api/orders/{held_order.pk}/{endpoint}", {"reason": NOTE},
                                           format="json")

    assert response.status_code == 400
    assert "reason" in response.json()["fields"]
    assert Order.objects.get(pk=held_order.pk).state == "awaiting_approval"


def test_a_customer_message_longer_than_the_order_keeps_is_refused(held_order, staff_user, jwt_client):
    response = jwt_client(staff_user).post(f"/api/orders/{held_order.pk}/reject", {"customerMessage": "x" * 201},
                                           format="json")

    assert response.status_code == 400
    assert Order.objects.get(pk=held_order.pk).state == "awaiting_approval"
