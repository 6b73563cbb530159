"""The notifications page: the customer's own notifications, mark one or all as read."""
from django.urls import reverse

from notifications import services
from notifications.models import Notification
from notifications.services import notify


def notifications_for(order, *event_types):
    """The order's notifications of these events (placement records "order.created" itself)."""
    for event_type in event_types:
        notify(order_id=order.pk, event_type=event_type)
    return [Notification.objects.get(order=order, event_type=event_type) for event_type in event_types]


def test_notifications_require_sign_in(client, db):
    response = client.get(reverse("notifications:notification_list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_list_shows_own_notifications_with_the_unread_count(client, customer, other_customer, place_order):
    mine = place_order(customer)
    theirs = place_order(other_customer)
    notifications_for(mine, "order.created", "order.paid")
    notifications_for(theirs, "order.created")
    client.force_login(customer)
    html = client.get(reverse("notifications:notification_list")).content.decode()
    assert "<h1>Notifications</h1>" in html
    assert f"Order {mine.number} received" in html and f"Payment received for {mine.number}" in html
    assert theirs.number not in html
    assert "2 unread" in html
    assert '<span id="unread-count" class="badge badge--alert">2</span>' in html
    assert f'href="{reverse("orders:order_detail", args=[mine.pk])}"' in html
    assert "Mark all as read" in html


def test_mark_one_as_read(client, customer, other_customer, place_order):
    created, paid = notifications_for(place_order(customer), "order.created", "order.paid")
    client.force_login(customer)
    response = client.post(reverse("notifications:notification_read", args=[created.pk]))
    assert response.status_code == 302
    created.refresh_from_db()
    paid.refresh_from_db()
    assert created.read_at is not None and paid.read_at is None
    assert "1 unread" in client.get(reverse("notifications:notification_list")).content.decode()


def test_mark_all_as_read(client, customer, place_order):
    notifications_for(place_order(customer), "order.created", "order.paid", "order.shipped")
    client.force_login(customer)
    response = client.post(reverse("notifications:notification_read_all"), follow=True)
    html = response.content.decode()
    assert "Marked 3 notifications as read." in html
    assert "all caught up" in html
    assert 'id="unread-count"' not in html
    assert not Notification.objects.filter(user=customer, read_at__isnull=True).exists()


def test_another_customers_notification_is_left_alone(client, customer, other_customer, place_order):
    (theirs,) = notifications_for(place_order(other_customer), "order.created")
    client.force_login(customer)
    client.post(reverse("notifications:notification_read", args=[theirs.pk]))
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert services.notification_mark_all_read(user=customer) == 0


def test_mark_read_needs_post(client, customer):
    client.force_login(customer)
    assert client.get(reverse("notifications:notification_read_all")).status_code == 405
