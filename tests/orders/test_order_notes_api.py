"""/api/orders/{id}/notes: staff's internal notes on an order, for staff only."""
import pytest
from django.contrib.auth.models import Permission
from django.core import mail

from orders.models import StaffNote
from orders.services import order_reject

NOTE = "Customer called: leave the parcel with the neighbour"


@pytest.fixture
def paid(order_in_state):
    return order_in_state("paid")


def test_staff_add_a_note_and_read_it_with_the_notes_given_with_a_reject(
    jwt_client, staff_user, make_user, order_in_state, django_capture_on_commit_callbacks
):
    held = order_in_state("awaiting_approval")
    order_reject(order=held, actor=make_user("boss@example.com", is_staff=True, is_superuser=True),
                 note="Address looks made up", customer_message="")
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        created = jwt_client(staff_user).post(f"/api/orders/{held.pk}/notes", {"text": f"  {NOTE} "}, format="json")
    listed = jwt_client(staff_user).get(f"/api/orders/{held.pk}/notes")

    assert created.status_code == 201, created.content
    assert {key: created.json()[key] for key in ("text", "author", "source")} == {
        "text": NOTE, "author": "staff@example.com", "source": "note"}
    assert [(n["text"], n["author"], n["source"]) for n in listed.json()] == [
        (NOTE, "staff@example.com", "note"), ("Address looks made up", "boss@example.com", "reject")]
    assert mail.outbox == []


def test_the_customer_reads_no_notes_and_writes_none(customer_api, staff_api, customer, paid):
    staff_api.post(f"/api/orders/{paid.pk}/notes", {"text": NOTE}, format="json")

    answers = [customer_api.get(f"/api/orders/{paid.pk}/notes"),
               customer_api.post(f"/api/orders/{paid.pk}/notes", {"text": "I am staff now"}, format="json")]

    assert [a.status_code for a in answers] == [403, 403]
    assert all(a.json()["code"] == "permission_denied" for a in answers)
    assert StaffNote.objects.filter(text="I am staff now").count() == 0
    for response in (customer_api.get(f"/api/orders/{paid.pk}"), customer_api.get("/api/orders")):
        assert NOTE not in response.content.decode()


def test_staff_without_the_note_permission_cannot_add_one(jwt_client, make_user, paid):
    viewer = make_user("viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="view_order"))

    response = jwt_client(viewer).post(f"/api/orders/{paid.pk}/notes", {"text": NOTE}, format="json")

    assert response.status_code == 403
    assert response.json() == {"error": "You do not have permission to add internal notes on orders and customers.",
                               "code": "permission_denied"}
    assert jwt_client(viewer).get(f"/api/orders/{paid.pk}/notes").status_code == 200
    assert not StaffNote.objects.exists()


@pytest.mark.parametrize("body", [{}, {"text": "   "}, {"text": "x" * 2001}, {"text": ["a list"]}])
def test_a_bad_note_is_a_400_and_nothing_is_written(staff_api, paid, body):
    response = staff_api.post(f"/api/orders/{paid.pk}/notes", body, format="json")

    assert response.status_code == 400
    assert "text" in response.json()["fields"]
    assert not StaffNote.objects.exists()


def test_a_note_on_an_order_that_does_not_exist_is_a_404(staff_api, db):
    assert staff_api.post("/api/orders/999999/notes", {"text": NOTE}, format="json").status_code == 404
