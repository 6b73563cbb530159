"""Forgotten passwords are reset by e-mail with Django's own views (the link works once); every
sign-in path, /admin/login/ included, is limited per address and locked per account."""
import re

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

NEW_PASSWORD = "Brand-New-Passw0rd"
LOCKED = "Too many failed sign-in attempts for this account"

pytestmark = pytest.mark.django_db


def reset_link(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+/)", message.body).group(1)


def test_a_reset_link_arrives_by_e_mail_and_sets_a_new_password_once(customer):
    browser = Client()
    signed_in_elsewhere = Client()
    signed_in_elsewhere.force_login(customer)
    api_tokens = APIClient().post("/api/auth/login", {"email": customer.email, "password": PASSWORD},
                                  format="json").json()

    sent = browser.post("/accounts/password/reset/", {"email": "Customer@Example.com"})

    assert sent.status_code == 302
    assert sent["Location"] == "/accounts/password/reset/sent/"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [customer.email]
    assert mail.outbox[0].subject == "Reset your Workflow Store password"
    link = reset_link(mail.outbox[0])
    form_page = browser.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = browser.post(form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD,
                                                          "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == "/accounts/password/reset/done/"
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)
    # Everything signed in before is signed out: other browsers and API tokens.
    assert signed_in_elsewhere.get("/accounts/profile/").status_code == 302
    assert APIClient().post("/api/auth/refresh", {"refresh": api_tokens["refresh"]},
                            format="json").status_code == 401

    again = Client().get(link, follow=True)
    assert "This link no longer works" in again.content.decode()
    assert "Choose a new password" not in again.content.decode()


def test_a_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(db):
    response = Client().post("/accounts/password/reset/", {"email": "nobody@example.com"})

    assert (response.status_code, response["Location"]) == (302, "/accounts/password/reset/sent/")
    assert mail.outbox == []


def test_reset_e_mails_are_limited_per_address(customer, rate_limits):
    client = Client()
    for _ in range(5):
        assert client.post("/accounts/password/reset/", {"email": customer.email}).status_code == 302

    refused = client.post("/accounts/password/reset/", {"email": customer.email})

    assert refused.status_code == 429
    assert "Too many password reset attempts from your address" in refused.content.decode()
    assert len(mail.outbox) == 5


def test_a_reset_unlocks_the_account(customer, rate_limits):
    api = APIClient()
    for _ in range(5):
        api.post("/api/auth/login", {"email": customer.email, "password": "wrong"}, format="json",
                 REMOTE_ADDR="10.6.0.1")
    assert api.post("/api/auth/login", {"email": customer.email, "password": PASSWORD}, format="json",
                    REMOTE_ADDR="10.6.0.2").status_code == 429

    Client().post("/accounts/password/reset/", {"email": customer.email}, REMOTE_ADDR="10.6.0.3")
    browser = Client()
    page = browser.get(reset_link(mail.outbox[0]), follow=True)
    browser.post(page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert api.post("/api/auth/login", {"email": customer.email, "password": NEW_PASSWORD}, format="json",
                    REMOTE_ADDR="10.6.0.4").status_code == 200


@pytest.mark.parametrize("password", [" " * 8, "\t" * 10, " \n " * 4])
def test_whitespace_only_passwords_are_refused_everywhere(password, api_client):
    api = api_client.post("/api/auth/register", {"email": "blank@example.com", "password": password,
                                                 "name": "Blank Pass"}, format="json")
    page = Client().post("/accounts/register/", {"email": "blank@example.com", "name": "Blank Pass",
                                                 "password1": password, "password2": password})

    assert api.status_code == 400
    assert "Your password can't be only spaces." in api.json()["fields"]["password"]
    assert page.status_code == 200
    assert "Your password can&#x27;t be only spaces." in page.content.decode()
    from accounts.models import User

    assert not User.objects.filter(email="blank@example.com").exists()


def test_forty_wrong_admin_passwords_then_the_right_one_stays_locked(staff_user, rate_limits):
    statuses = []
    for number in range(40):
        response = Client().post("/admin/login/?next=/admin/", {"username": staff_user.email, "password": "wrong",
                                                                "next": "/admin/"},
                                 REMOTE_ADDR=f"10.5.{number // 200}.{number % 200 + 1}")
        statuses.append(response.status_code)

    admin = Client()
    right = admin.post("/admin/login/?next=/admin/", {"username": staff_user.email, "password": PASSWORD,
                                                      "next": "/admin/"}, REMOTE_ADDR="10.5.9.9")

    assert statuses[:5] == [200] * 5  # answered as wrong passwords
    assert set(statuses[5:]) == {429}
    assert right.status_code == 429
    assert LOCKED in right.content.decode()
    assert int(right["Retry-After"]) > 800
    assert admin.get("/admin/").status_code == 302  # not signed in
    # The lock is the account's on every path.
    api = APIClient().post("/api/auth/login", {"email": staff_user.email, "password": PASSWORD}, format="json")
    assert api.status_code == 429


def test_admin_sign_ins_share_the_per_address_limit(staff_user, rate_limits):
    for number in range(10):
        Client().post("/admin/login/", {"username": f"nobody{number}@example.com", "password": "x"},
                      REMOTE_ADDR="10.4.0.1")

    refused = Client().post("/admin/login/", {"username": staff_user.email, "password": PASSWORD},
                            REMOTE_ADDR="10.4.0.1")

    assert refused.status_code == 429
    assert "Too many sign-in attempts from your address" in refused.content.decode()
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_guessing_the_current_password_counts_against_the_account(customer, rate_limits):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Bearer " + APIClient().post(
        "/api/auth/login", {"email": customer.email, "password": PASSWORD}, format="json").json()["token"])
    page = Client()
    page.force_login(customer)

    answers = [api.post("/api/auth/password", {"currentPassword": f"guess{n}", "newPassword": NEW_PASSWORD},
                        format="json").status_code for n in range(3)]
    answers += [page.post("/accounts/password/", {"old_password": f"guess{n}", "new_password1": NEW_PASSWORD,
                                                  "new_password2": NEW_PASSWORD}).status_code for n in range(2)]
    right_api = api.post("/api/auth/password", {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
                         format="json")
    right_page = page.post("/accounts/password/", {"old_password": PASSWORD, "new_password1": NEW_PASSWORD,
                                                   "new_password2": NEW_PASSWORD})

    assert answers == [400, 400, 400, 200, 200]
    assert right_api.status_code == 429
    assert LOCKED in right_api.json()["error"]
    assert int(right_api["Retry-After"]) > 800
    assert right_page.status_code == 429
    assert LOCKED in right_page.content.decode()
    customer.refresh_from_db()
    assert customer.check_password(PASSWORD)
    login = APIClient().post("/api/auth/login", {"email": customer.email, "password": PASSWORD}, format="json")
    assert login.status_code == 429


def test_an_api_sign_in_forgets_the_failures_before_it_as_a_page_sign_in_does(customer, rate_limits):
    api = APIClient()

    def login(password):
        return api.post("/api/auth/login", {"email": customer.email, "password": password}, format="json").status_code

    assert [login("wrong") for _ in range(4)] == [401] * 4
    assert login(PASSWORD) == 200
    assert login("wrong") == 401
    assert login(PASSWORD) == 200
    assert "sessionid" not in api.cookies  # an API sign-in starts no web session


def test_staff_who_manage_accounts_look_after_customers_and_grant_nothing(make_user, customer, staff_user):
    from django.contrib.auth.models import Group, Permission

    manager = make_user("accounts-desk@example.com", is_staff=True)
    manager.user_permissions.add(*Permission.objects.filter(
        content_type__app_label__in=["accounts", "auth"],
        codename__in=["view_user", "change_user", "view_group", "change_group"],
    ))
    desk = Client()
    desk.force_login(manager)
    shop_staff = Group.objects.create(name="Desk's group")

    customer_edit = desk.post(f"/admin/accounts/user/{customer.pk}/change/", {
        "email": customer.email, "name": "Casey Q.", "is_active": "on", "is_staff": "on", "is_superuser": "on",
        "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
    })
    answers = {
        "own account": desk.post(f"/admin/accounts/user/{manager.pk}/change/", {"is_superuser": "on"}).status_code,
        "a superuser's password": desk.post(f"/admin/accounts/user/{staff_user.pk}/password/", {
            "password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}).status_code,
        "a group's permissions": desk.post(f"/admin/auth/group/{shop_staff.pk}/change/", {
            "name": shop_staff.name,
            "permissions": [Permission.objects.get(codename="refund_order").pk]}).status_code,
    }

    assert customer_edit.status_code == 302, customer_edit.content.decode()[:500]
    customer.refresh_from_db()
    assert (customer.name, customer.is_staff, customer.is_superuser) == ("Casey Q.", False, False)
    assert answers == {"own account": 403, "a superuser's password": 403, "a group's permissions": 403}
    staff_user.refresh_from_db()
    assert staff_user.check_password(PASSWORD)
    assert not shop_staff.permissions.exists()
    manager.refresh_from_db()
    assert not manager.is_superuser


def test_the_admins_own_password_change_is_guarded_like_a_sign_in(staff_user, rate_limits):
    admin = Client()
    admin.force_login(staff_user)

    def change(old):
        return admin.post("/admin/password_change/", {"old_password": old, "new_password1": NEW_PASSWORD,
                                                      "new_password2": NEW_PASSWORD})

    assert [change(f"guess{n}").status_code for n in range(5)] == [200] * 5
    refused = change(PASSWORD)

    assert refused.status_code == 429
    assert LOCKED in refused.content.decode()
    staff_user.refresh_from_db()
    assert staff_user.check_password(PASSWORD)


def test_a_password_set_by_staff_is_in_the_audit_trail_without_the_hash(customer, staff_user):
    from auditlog.models import LogEntry

    admin = Client()
    admin.force_login(staff_user)
    admin.post(f"/admin/accounts/user/{customer.pk}/password/", {
        "password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true",
    })

    entry = LogEntry.objects.get_for_object(customer).latest("id")
    assert (entry.actor_email, entry.changes_dict) == (staff_user.email, {"password": ["(hidden)", "(hidden)"]})
    customer.refresh_from_db()
    assert customer.password.split("$")[-1] not in str(entry.changes)


def test_a_turn_left_behind_lapses_before_the_owner_stops_waiting(customer, fresh_cache):
    """A sign-in whose process died holding the account's turn (or could not give it back while
    Redis failed) never refuses the owner: the turn lapses first."""
    import time

    from accounts.signin import TURN_HOLD_SECONDS, account_turn

    abandoned = account_turn(customer.email)
    assert abandoned.__enter__() is None  # taken, and never given back

    started = time.monotonic()
    response = APIClient().post("/api/auth/login", {"email": customer.email, "password": PASSWORD}, format="json")

    assert response.status_code == 200, response.json()
    assert time.monotonic() - started > TURN_HOLD_SECONDS - 1  # it waited for the turn to lapse
