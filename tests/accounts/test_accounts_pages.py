"""Account pages: register, log in (honouring ?next=), log out (POST only), profile."""
import pytest
from django.contrib.auth import get_user
from django.contrib.messages import get_messages

from accounts.models import User

PASSWORD = "Sturdy-Passw0rd!"


def register_data(**overrides) -> dict:
    data = {"email": "ada@example.com", "name": "Ada Lovelace", "password1": PASSWORD, "password2": PASSWORD}
    return {**data, **overrides}


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.mark.django_db
def test_register_page_has_a_labelled_field_for_everything(client):
    html = client.get("/accounts/register/").content.decode()

    for field_id, label in [
        ("id_email", "E-mail address"),
        ("id_name", "Full name"),
        ("id_password1", "Password"),
        ("id_password2", "Confirm password"),
    ]:
        assert f'<label for="{field_id}">{label}</label>' in html
    assert "<h1>Create an account</h1>" in html


@pytest.mark.django_db
def test_register_creates_the_account_signs_in_and_goes_to_the_catalog(client):
    response = client.post("/accounts/register/", register_data(email="Ada@Example.com"))

    assert response.status_code == 302
    assert response.url == "/"
    user = User.objects.get(email="ada@example.com")
    assert user.name == "Ada Lovelace"
    assert get_user(client) == user
    assert messages_of(response) == ["Welcome, Ada! Your account is ready."]


@pytest.mark.django_db
def test_register_goes_back_to_next_on_this_site_only(client):
    assert client.post("/accounts/register/?next=/checkout/", register_data()).url == "/checkout/"
    client.logout()
    response = client.post("/accounts/register/?next=https://evil.example/", register_data(email="b@example.com"))
    assert response.url == "/"


@pytest.mark.django_db
def test_register_with_a_weak_password_shows_the_validator_errors(client):
    response = client.post("/accounts/register/", register_data(password1="12345678", password2="12345678"))

    assert response.status_code == 200
    assert response.context["form"].errors["password2"] == [
        "This password is too common.",
        "This password is entirely numeric.",
    ]
    assert "This password is too common." in response.content.decode()
    assert not User.objects.exists()


def test_register_with_a_taken_email_shows_an_error(client, customer):
    response = client.post("/accounts/register/", register_data(email="CUSTOMER@example.com"))

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["An account with this e-mail address already exists."]
    assert User.objects.count() == 1


@pytest.mark.parametrize("email, error", [
    ("customer@ｅｘａｍｐｌｅ.com", "An account with this e-mail address already exists."),  # fullwidth letters
    ("customer@ex\u0430mple.com", "This e-mail address mixes alphabets (Cyrillic and Latin) in its domain, as "
                                  "lookalike addresses do: type it again in one alphabet."),  # a Cyrillic "а"
])
def test_register_with_a_lookalike_of_a_taken_email_is_refused(client, customer, email, error):
    response = client.post("/accounts/register/", register_data(email=email))

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [error]
    assert User.objects.count() == 1


def test_register_while_signed_in_goes_to_the_catalog(client, customer):
    client.force_login(customer)

    assert client.get("/accounts/register/").url == "/"


def test_login_signs_in_and_returns_to_next(client, customer):
    response = client.post("/accounts/login/?next=/orders/", {"username": "Customer@example.com", "password": PASSWORD})

    assert response.status_code == 302
    assert response.url == "/orders/"
    assert get_user(client) == customer


def test_login_keeps_next_in_the_form(client):
    html = client.get("/accounts/login/?next=/checkout/").content.decode()

    assert '<input type="hidden" name="next" value="/checkout/">' in html
    assert '<label for="id_username">E-mail address</label>' in html
    assert '<label for="id_password">Password</label>' in html


def test_login_with_a_wrong_password_shows_an_error_and_stays_signed_out(client, customer):
    response = client.post("/accounts/login/", {"username": "customer@example.com", "password": "wrong"})

    assert response.status_code == 200
    assert "Incorrect e-mail address or password." in response.content.decode()
    assert not get_user(client).is_authenticated


def test_logout_is_post_only(client, customer):
    client.force_login(customer)

    assert client.get("/accounts/logout/").status_code == 405
    assert get_user(client) == customer

    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response.url == "/"
    assert not get_user(client).is_authenticated


def test_profile_needs_a_signed_in_user(client):
    response = client.get("/accounts/profile/")

    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/accounts/profile/"


def test_profile_shows_the_email_and_edits_the_name(client, customer):
    client.force_login(customer)
    html = client.get("/accounts/profile/").content.decode()
    assert "customer@example.com" in html
    assert 'value="Casey Customer"' in html

    response = client.post("/accounts/profile/", {"name": "Casey Renamed"})

    assert response.status_code == 302
    assert response.url == "/accounts/profile/"
    customer.refresh_from_db()
    assert customer.name == "Casey Renamed"
    assert messages_of(response) == ["Your profile has been updated."]


def test_profile_refuses_a_blank_name(client, customer):
    client.force_login(customer)

    response = client.post("/accounts/profile/", {"name": ""})

    assert response.status_code == 200
    assert response.context["form"].errors == {"name": ["This field is required."]}
    customer.refresh_from_db()
    assert customer.name == "Casey Customer"


@pytest.mark.django_db
def test_the_header_offers_log_in_and_register_when_signed_out(client):
    html = client.get("/accounts/login/").content.decode()

    assert ">Log in</a>" in html and ">Register</a>" in html
    assert "Log out" not in html and ">Profile</a>" not in html


def test_the_header_offers_profile_and_a_logout_form_when_signed_in(client, customer):
    client.force_login(customer)

    html = client.get("/accounts/profile/").content.decode()

    assert ">Profile</a>" in html
    assert '<form method="post" action="/accounts/logout/"' in html
    assert ">Register</a>" not in html
