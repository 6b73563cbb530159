"""The user admin, adapted to the e-mail login."""
import pytest

from accounts.models import User
from accounts.staff import owner_change_refusal


def test_user_list_shows_and_searches_users(client, staff_user, customer, other_customer):
    client.force_login(staff_user)

    response = client.get("/admin/accounts/user/", {"q": "casey"})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [customer]
    assert "Casey Customer" in response.content.decode()


def test_staff_add_a_user_with_email_name_and_password(client, staff_user):
    client.force_login(staff_user)

    response = client.post(
        "/admin/accounts/user/add/",
        {
            "email": "New.Staff@Example.com",
            "name": "New Staff",
            "usable_password": "true",
            "password1": "Sturdy-Passw0rd!",
            "password2": "Sturdy-Passw0rd!",
        },
    )

    assert response.status_code == 302
    user = User.objects.get(email="new.staff@example.com")
    assert user.name == "New Staff"
    assert user.check_password("Sturdy-Passw0rd!")


def test_the_change_page_edits_the_name_and_staff_status(client, staff_user, customer):
    client.force_login(staff_user)
    page = client.get(f"/admin/accounts/user/{customer.pk}/change/")
    assert page.status_code == 200

    response = client.post(
        f"/admin/accounts/user/{customer.pk}/change/",
        {
            "email": customer.email,
            "name": "Casey Promoted",
            "is_active": "on",
            "is_staff": "on",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert (customer.name, customer.is_staff) == ("Casey Promoted", True)


def _change(client, user: User, **fields):
    data = {"email": user.email, "name": user.name, "is_active": "on", "is_staff": "on", "is_superuser": "on",
            **fields}
    return client.post(f"/admin/accounts/user/{user.pk}/change/", {k: v for k, v in data.items() if v is not None})


def _errors(response) -> list[str]:
    return list(response.context["adminform"].form.non_field_errors())


@pytest.mark.parametrize("field", ["is_active", "is_superuser"])
def test_an_owner_cannot_deactivate_or_demote_themselves(client, staff_user, make_user, field):
    make_user("second.owner@example.com", is_staff=True, is_superuser=True)  # not the last owner
    client.force_login(staff_user)

    response = _change(client, staff_user, **{field: None})

    assert response.status_code == 200
    assert _errors(response) == [{
        "is_active": "You cannot deactivate your own account: another owner (superuser) can.",
        "is_superuser": "You cannot remove your own superuser status: another owner (superuser) can."}[field]]
    staff_user.refresh_from_db()
    assert staff_user.is_active and staff_user.is_superuser


@pytest.mark.parametrize("field", ["is_active", "is_superuser"])
def test_the_last_active_owner_is_never_deactivated_or_demoted(staff_user, make_user, field):
    """Through the form only an owner's own account can be the last one (the rule above refuses
    it first); the rule stands on its own for whoever acts."""
    someone = make_user("someone@example.com", is_staff=True, is_superuser=True, is_active=False)
    changes = {"active": True, "superuser": True, field.removeprefix("is_"): False}

    assert owner_change_refusal(actor=someone, account=staff_user, **changes) == (
        "staff@example.com is the shop's last active owner (superuser): make another account an owner first, "
        "then change this one.")
    make_user("second.owner@example.com", is_staff=True, is_superuser=True)
    assert owner_change_refusal(actor=someone, account=staff_user, **changes) == ""


def test_another_owner_may_deactivate_an_owner_who_is_not_the_last(client, staff_user, make_user):
    other = make_user("other.owner@example.com", is_staff=True, is_superuser=True)
    client.force_login(staff_user)

    assert _change(client, other, is_active=None).status_code == 302

    other.refresh_from_db()
    assert not other.is_active


def test_the_last_active_owner_cannot_be_deleted(client, staff_user, make_user):
    second = make_user("second.owner@example.com", is_staff=True, is_superuser=True)
    client.force_login(staff_user)

    both = client.post("/admin/accounts/user/", {"action": "delete_selected", "post": "yes",
                                                  "_selected_action": [staff_user.pk, second.pk]}, follow=True)
    User.objects.filter(pk=second.pk).update(is_active=False)
    alone = client.post(f"/admin/accounts/user/{staff_user.pk}/delete/", {"post": "yes"}, follow=True)

    assert [str(m) for m in both.context["messages"]] == [
        "Nobody was deleted: second.owner@example.com, staff@example.com: the shop's last active owner (superuser) "
        "cannot be deleted; make another account an owner first."]
    assert [str(m) for m in alone.context["messages"]] == [
        "staff@example.com: the shop's last active owner (superuser) cannot be deleted; make another account an "
        "owner first."]
    assert User.objects.filter(pk__in=[staff_user.pk, second.pk]).count() == 2
