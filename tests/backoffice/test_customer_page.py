"""The customer page in the admin: a customer's orders, spend, account age, addresses, declined
payments and staff's notes in one place, linked from every order; notes stay with staff."""
from datetime import timedelta
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission
from django.core import mail
from django.db.models import F
from django.test import Client
from django.urls import reverse

from accounts.models import User
from notifications.models import Notification
from orders.models import Order, StaffNote
from orders.services import order_reject, refund_create
from tests.order_states import order_move

NOTE = "Called twice about the late keyboard; offer free shipping next time"


def customer_page(user) -> str:
    return reverse("admin:orders_customer_change", args=[user.pk])


def _web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def history(order_in, place_order, customer, other_customer):
    """Casey's orders, one of each kind that counts or does not count towards spend."""
    User.objects.filter(pk=customer.pk).update(date_joined=F("date_joined") - timedelta(days=40))
    delivered = order_in("delivered", items={"prod-001": 2})  # 299.98, 50.00 refunded later
    refund_create(order=delivered, amount=Decimal("50.00"), reason="Dented box", actor=None)
    paid = order_in("paid", items={"prod-002": 1})  # 49.99
    refunded = order_in("paid", items={"prod-003": 1})  # 79.99, all refunded
    refund_create(order=refunded, amount=Decimal("79.99"), reason="Returned", actor=None)
    cancelled = order_in("cancelled", items={"prod-004": 1})  # never charged
    declined = order_in("payment_failed", items={"prod-005": 1})  # declined, never charged
    paid_after_decline = order_move(order_in("payment_failed", items={"prod-006": 1}), "paid")  # 24.99
    elsewhere = order_move(place_order(customer, {"prod-007": 1}, zip="10001"), "new")
    theirs = order_in("paid", user=other_customer, items={"prod-008": 3})
    return {"delivered": delivered, "paid": paid, "refunded": refunded, "cancelled": cancelled,
            "declined": declined, "paid_after_decline": paid_after_decline, "elsewhere": elsewhere,
            "theirs": theirs}


def test_the_page_shows_orders_spend_age_addresses_and_declines(clerk_client, customer, history):
    response = clerk_client.get(customer_page(customer))

    assert response.status_code == 200
    summary = response.context["summary"]
    # Charged: 299.98 + 49.99 + 79.99 + 24.99; refunded 50.00 + 79.99.
    assert (summary.paid, summary.refunded, summary.lifetime_spend) == (
        Decimal("454.95"), Decimal("129.99"), Decimal("324.96"))
    assert summary.account_age.days == 40
    assert [order.pk for order in summary.orders] == sorted(
        (o.pk for key, o in history.items() if key != "theirs"), reverse=True)
    page = response.content.decode()
    assert 'data-testid="lifetime-spend">$324.96<' in page
    assert 'data-testid="order-count">7<' in page
    assert "(40 days)" in page
    for key, order in history.items():
        link = f'href="{reverse("admin:orders_order_change", args=[order.pk])}"'
        assert (link in page) == (key != "theirs"), key
    assert [(str(a), a.orders) for a in summary.addresses] == [
        ("1 Market Street, Springfield, IL 10001", 1), ("1 Market Street, Springfield, IL 62701", 6)]
    assert [(d.order.pk, d.declines, d.reason) for d in summary.declined] == [
        (history["paid_after_decline"].pk, 1, "Card declined"), (history["declined"].pk, 1, "Card declined")]


def test_a_customer_without_orders_has_spent_nothing(clerk_client, customer):
    response = clerk_client.get(customer_page(customer))

    assert response.status_code == 200
    assert response.context["summary"].lifetime_spend == Decimal("0.00")
    assert "No orders yet." in response.content.decode()


def test_the_page_costs_the_same_queries_for_few_and_many_orders(clerk_client, customer, order_in, queries_of):
    order_in("paid")
    few = queries_of(clerk_client, customer_page(customer))
    for state in ("delivered", "payment_failed", "cancelled", "new"):
        order_in(state)

    assert queries_of(clerk_client, customer_page(customer)) == few


def test_staff_find_orders_by_customer_e_mail_name_or_product(clerk_client, customer, history):
    listing = reverse("admin:orders_order_changelist")

    def found(term: str) -> set[int]:
        response = clerk_client.get(listing, {"q": term})
        assert response.status_code == 200
        return {order.pk for order in response.context["cl"].result_list}

    casey = {o.pk for key, o in history.items() if key != "theirs"}
    assert found("customer@example.com") == casey
    assert found("Casey Customer") == casey
    assert found("Monitor Light") == {history["elsewhere"].pk}
    assert found("IDE License") == {history["theirs"].pk}


def test_every_order_links_its_customer_to_the_customer_page(clerk_client, customer, history):
    order = history["paid"]
    link = f'<a href="{customer_page(customer)}" class="customer-link">Casey Customer &lt;customer@example.com&gt;</a>'

    assert link in clerk_client.get(reverse("admin:orders_order_changelist")).content.decode()
    assert link in clerk_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()


def test_staff_find_the_customer_by_e_mail_in_the_customers_list(clerk_client, customer, other_customer, history):
    response = clerk_client.get(reverse("admin:orders_customer_changelist"), {"q": "customer@example"})

    rows = list(response.context["cl"].result_list)
    assert [row.email for row in rows] == ["customer@example.com"]
    assert rows[0].lifetime_spend == Decimal("324.96")
    assert "<td class=\"field-lifetime_spend\">$324.96</td>" in response.content.decode()
    assert rows[0].order_count == 7
    assert customer_page(customer) in response.content.decode()


def test_the_user_admin_links_to_the_customer_page(client, staff_user, customer):
    client.force_login(staff_user)

    page = client.get(reverse("admin:accounts_user_change", args=[customer.pk])).content.decode()

    assert f'href="{customer_page(customer)}"' in page


# --- Notes ------------------------------------------------------------------------------------


def test_a_note_on_the_customer_is_on_their_page_and_reaches_nobody_else(
    clerk_client, shop_staff, customer, customer_api, history, django_capture_on_commit_callbacks
):
    order = history["paid"]
    mail.outbox.clear()
    notifications_before = Notification.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        response = clerk_client.post(reverse("admin:orders_customer_note", args=[customer.pk]), {"text": NOTE},
                                     follow=True)

    page = response.content.decode()
    assert "Note added on Casey Customer. Staff only: the customer never sees it." in page
    assert NOTE in page and "clerk@example.com" in page
    note = StaffNote.objects.get()
    assert (note.customer_id, note.order_id, note.author_id) == (customer.pk, None, shop_staff.pk)
    audit = LogEntry.objects.get_for_object(note).get()  # the audit trail: who wrote which note
    assert (audit.action, audit.actor_email) == (LogEntry.Action.CREATE, "clerk@example.com")
    # Nothing sent, nothing shown to the customer.
    assert mail.outbox == []
    assert Notification.objects.count() == notifications_before
    _assert_customer_never_sees(customer_api, customer, order, NOTE)


def test_a_note_on_an_order_is_on_the_order_page_and_the_customer_page(
    clerk_client, customer, customer_api, history, django_capture_on_commit_callbacks
):
    order = history["delivered"]
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = clerk_client.post(reverse("admin:orders_order_note", args=[order.pk]), {"text": NOTE}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("admin:orders_order_change", args=[order.pk])
    order_page = response.content.decode()
    assert f"Note added on order {order.number}." in order_page
    assert NOTE in order_page
    notes = response.context["staff_notes"]
    assert [(n.author, n.text, n.source) for n in notes] == [("clerk@example.com", NOTE, "note")]
    assert NOTE in clerk_client.get(customer_page(customer)).content.decode()
    assert mail.outbox == []
    _assert_customer_never_sees(customer_api, customer, order, NOTE)


def test_the_order_page_shows_the_note_given_with_a_reject_among_its_notes(
    clerk_client, refunder, customer, order_in
):
    held = order_in("awaiting_approval")
    order_reject(order=held, actor=refunder, note="Address looks made up", customer_message="")

    notes = clerk_client.get(reverse("admin:orders_order_change", args=[held.pk])).context["staff_notes"]

    assert [(n.author, n.text, n.source) for n in notes] == [("refunds@example.com", "Address looks made up",
                                                               "reject")]


@pytest.mark.parametrize(("text", "says"), [("   ", "This field is required."),
                                            ("x" * 2001, "at most 2000 characters")])
def test_a_blank_or_too_long_note_is_refused_and_nothing_is_written(clerk_client, customer, text, says):
    response = clerk_client.post(reverse("admin:orders_customer_note", args=[customer.pk]), {"text": text},
                                 follow=True)

    assert "No note added: Internal note:" in response.content.decode()
    assert says in response.content.decode()
    assert not StaffNote.objects.exists()


def test_staff_without_the_note_permission_cannot_add_one(make_user, customer, order_in):
    viewer = make_user("viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="view_order"))
    order = order_in("paid")
    web = _web(viewer)

    page = web.get(customer_page(customer))
    order_page = web.get(reverse("admin:orders_order_change", args=[order.pk]))
    answers = [web.post(reverse("admin:orders_customer_note", args=[customer.pk]), {"text": NOTE}).status_code,
               web.post(reverse("admin:orders_order_note", args=[order.pk]), {"text": NOTE}).status_code]

    assert page.status_code == order_page.status_code == 200
    assert page.context["note_form"] is None and order_page.context["note_form"] is None
    assert "Add note" not in page.content.decode()
    assert answers == [403, 403]
    assert not StaffNote.objects.exists()


def test_only_staff_who_may_see_orders_see_a_customer(make_user, customer, client):
    noter = make_user("noter@example.com", is_staff=True)
    noter.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="add_staffnote"))

    assert _web(noter).get(customer_page(customer)).status_code == 403
    assert _web(noter).post(reverse("admin:orders_customer_note", args=[customer.pk]),
                            {"text": NOTE}).status_code == 403
    assert _web(customer).get(customer_page(customer)).status_code == 302  # to the admin's sign-in
    assert not StaffNote.objects.exists()


def test_a_get_of_the_note_url_writes_nothing(clerk_client, customer):
    assert clerk_client.get(reverse("admin:orders_customer_note", args=[customer.pk])).status_code == 405
    assert not StaffNote.objects.exists()


def _assert_customer_never_sees(api, customer, order: Order, text: str) -> None:
    """Not on the customer's API answers, storefront pages, notifications or e-mails."""
    web = _web(customer)
    seen = [
        api.get(f"/api/orders/{order.pk}"),
        api.get("/api/orders"),
        web.get(reverse("orders:order_detail", args=[order.pk])),
        web.get(reverse("orders:order_status", args=[order.pk])),
        web.get(reverse("orders:order_list")),
        web.get(reverse("notifications:notification_list")),
    ]
    for response in seen:
        assert response.status_code in (200, 286)  # 286: htmx stops polling a finished order's status
        assert text not in response.content.decode()
    assert all(text not in f"{m.subject} {m.body}" for m in mail.outbox)
    assert all(text not in f"{n.title} {n.body}" for n in Notification.objects.filter(user=customer))
