"""accounts.services: registration rules, sign-in, profile edits and JWT refresh."""
import pytest
from django.test import RequestFactory
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from accounts.services import (
    InvalidCredentials,
    token_refresh,
    tokens_issue,
    user_authenticate,
    user_register,
    user_update_profile,
)
from store.errors import ValidationFailed

PASSWORD = "Sturdy-Passw0rd!"


def sign_in_request():
    return RequestFactory().post("/api/auth/login")


@pytest.mark.django_db
def test_register_creates_an_active_user_with_a_lowercased_email_and_a_hashed_password():
    user = user_register(email="  Ada@Example.COM ", password=PASSWORD, name=" Ada Lovelace ")

    user.refresh_from_db()
    assert (user.email, user.name, user.is_active, user.is_staff) == ("ada@example.com", "Ada Lovelace", True, False)
    assert user.password != PASSWORD
    assert user.check_password(PASSWORD)


def test_register_refuses_an_email_that_is_taken_in_any_case(customer):
    with pytest.raises(ValidationFailed) as error:
        user_register(email="CUSTOMER@example.com", password=PASSWORD, name="Someone Else")

    assert error.value.fields == {"email": ["An account with this e-mail address already exists."]}
    assert User.objects.filter(email__iexact="customer@example.com").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "This password is too short. It must contain at least 8 characters."),
        ("password123", "This password is too common."),
        ("83920175346", "This password is entirely numeric."),
    ],
)
def test_register_applies_the_password_validators(password, message):
    with pytest.raises(ValidationFailed) as error:
        user_register(email="weak@example.com", password=password, name="Weak Password")

    assert message in error.value.fields["password"]
    assert not User.objects.filter(email="weak@example.com").exists()


@pytest.mark.django_db
def test_register_refuses_a_password_too_similar_to_the_email():
    with pytest.raises(ValidationFailed) as error:
        user_register(email="margaret.hamilton@example.com", password="margaret.hamilton", name="Margaret")

    assert "The password is too similar to the e-mail address." in error.value.fields["password"]


def test_register_reports_every_wrong_field_at_once(customer):
    with pytest.raises(ValidationFailed) as error:
        user_register(email="customer@example.com", password="123", name="   ")

    assert set(error.value.fields) == {"email", "name", "password"}


def test_authenticate_returns_the_user_for_the_right_password_in_any_email_case(customer):
    assert user_authenticate(email="Customer@Example.com", password=PASSWORD, request=sign_in_request()) == customer


@pytest.mark.parametrize(("email", "password"), [("customer@example.com", "wrong"), ("nobody@example.com", PASSWORD)])
def test_authenticate_refuses_bad_credentials(customer, email, password):
    with pytest.raises(InvalidCredentials) as error:
        user_authenticate(email=email, password=password, request=sign_in_request())

    assert (error.value.status, error.value.code) == (401, "invalid_credentials")


def test_authenticate_refuses_an_inactive_account(make_user):
    make_user("gone@example.com", is_active=False)

    with pytest.raises(InvalidCredentials):
        user_authenticate(email="gone@example.com", password=PASSWORD, request=sign_in_request())


def test_update_profile_changes_the_name_only(customer):
    user_update_profile(user=customer, name="  Casey Q. Customer ")

    customer.refresh_from_db()
    assert (customer.name, customer.email) == ("Casey Q. Customer", "customer@example.com")


def test_update_profile_refuses_a_blank_name(customer):
    with pytest.raises(ValidationFailed) as error:
        user_update_profile(user=customer, name="  ")

    assert error.value.fields == {"name": ["Please enter your name."]}
    customer.refresh_from_db()
    assert customer.name == "Casey Customer"


def test_refresh_returns_a_new_pair_for_the_same_user_and_spends_the_old_refresh_token(customer):
    tokens = tokens_issue(user=customer)

    pair = token_refresh(refresh=tokens["refresh"])

    assert str(AccessToken(pair["token"])["user_id"]) == str(customer.pk)
    assert pair["refresh"] != tokens["refresh"]
    with pytest.raises(InvalidCredentials) as error:
        token_refresh(refresh=tokens["refresh"])
    assert error.value.code == "token_not_valid"


def test_refresh_refuses_an_access_token_or_garbage(customer):
    tokens = tokens_issue(user=customer)
    for bad in (tokens["token"], "not-a-token"):
        with pytest.raises(InvalidCredentials) as error:
            token_refresh(refresh=bad)
        assert error.value.code == "token_not_valid"


def test_refresh_refuses_a_deactivated_user(customer):
    refresh = tokens_issue(user=customer)["refresh"]
    customer.is_active = False
    customer.save()

    with pytest.raises(InvalidCredentials) as error:
        token_refresh(refresh=refresh)

    assert error.value.code == "no_active_account"
