"""The user admin, adapted to the e-mail login."""
from accounts.models import User


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
