"""Tokens you can revoke: refresh tokens rotate and are spent, logout revokes, a password change
or reset (API, storefront or admin) revokes every earlier token and signs the web out too."""
import jwt
import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

LOGIN = "/api/auth/login"
REFRESH = "/api/auth/refresh"
LOGOUT = "/api/auth/logout"
PASSWORD_API = "/api/auth/password"
PROFILE = "/api/auth/profile"
NEW_PASSWORD = "Another-Sturdy-Pass9"

pytestmark = pytest.mark.django_db


def sign_in(email: str, password: str = PASSWORD) -> dict:
    response = APIClient().post(LOGIN, {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def profile_status(access: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get(PROFILE).status_code


def refresh_status(refresh: str) -> int:
    return APIClient().post(REFRESH, {"refresh": refresh}, format="json").status_code


def web_session(user) -> Client:
    client = Client()
    assert client.post("/accounts/login/", {"username": user.email, "password": PASSWORD}).status_code == 302
    assert client.get("/accounts/profile/").status_code == 200
    return client


def assert_signed_out(client: Client) -> None:
    response = client.get("/accounts/profile/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_reused_refresh_token_is_refused(customer):
    tokens = sign_in(customer.email)

    assert refresh_status(tokens["refresh"]) == 200
    response = APIClient().post(REFRESH, {"refresh": tokens["refresh"]}, format="json")

    assert response.status_code == 401
    assert response.json() == {"error": "Token is blacklisted", "code": "token_not_valid"}


def test_logout_revokes_the_refresh_token_and_is_idempotent(customer):
    tokens, other_device = sign_in(customer.email), sign_in(customer.email)
    client = APIClient()

    assert client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json").status_code == 204
    assert refresh_status(tokens["refresh"]) == 401
    assert client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json").status_code == 204
    # Only that client is signed out.
    assert refresh_status(other_device["refresh"]) == 200


def test_logout_refuses_what_is_not_a_refresh_token(customer):
    tokens = sign_in(customer.email)
    client = APIClient()

    for bad in ("garbage", tokens["token"]):
        response = client.post(LOGOUT, {"refresh": bad}, format="json")
        assert response.status_code == 401
        assert response.json()["code"] == "token_not_valid"
    assert client.post(LOGOUT, {}, format="json").status_code == 400
    assert refresh_status(tokens["refresh"]) == 200


def test_logout_reads_no_access_token_so_an_expired_one_does_not_stop_it(customer):
    tokens = sign_in(customer.email)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer expired.or.garbage")

    assert client.post(LOGOUT, {"refresh": tokens["refresh"]}, format="json").status_code == 204
    assert refresh_status(tokens["refresh"]) == 401


def test_a_password_change_through_the_api_revokes_every_earlier_token_and_web_session(customer):
    old = sign_in(customer.email)
    browser = web_session(customer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {old['token']}")

    response = client.post(PASSWORD_API, {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}, format="json")

    assert response.status_code == 200
    new = response.json()
    assert profile_status(old["token"]) == 401
    assert refresh_status(old["refresh"]) == 401
    assert_signed_out(browser)
    assert profile_status(new["token"]) == 200
    assert refresh_status(new["refresh"]) == 200
    assert sign_in(customer.email, NEW_PASSWORD)["user"]["id"] == customer.pk


def test_the_api_password_change_checks_the_current_password_and_the_rules(customer):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {sign_in(customer.email)['token']}")

    wrong = client.post(PASSWORD_API, {"currentPassword": "nope", "newPassword": NEW_PASSWORD}, format="json")
    spaces = client.post(PASSWORD_API, {"currentPassword": PASSWORD, "newPassword": " " * 12}, format="json")

    assert wrong.status_code == 400
    assert wrong.json()["fields"] == {"currentPassword": ["Your current password is incorrect."]}
    assert spaces.status_code == 400
    assert "Your password can't be only spaces." in spaces.json()["fields"]["newPassword"]
    customer.refresh_from_db()
    assert customer.check_password(PASSWORD)


def test_a_password_change_on_the_profile_page_keeps_this_browser_and_revokes_the_rest(customer):
    tokens = sign_in(customer.email)
    here, elsewhere = web_session(customer), web_session(customer)

    response = here.post("/accounts/password/", {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD,
    }, follow=True)

    assert response.status_code == 200
    assert "Your password has been changed." in response.content.decode()
    assert here.get("/accounts/profile/").status_code == 200
    assert_signed_out(elsewhere)
    assert profile_status(tokens["token"]) == 401
    assert refresh_status(tokens["refresh"]) == 401


def test_a_password_set_by_staff_in_the_admin_revokes_the_users_tokens(customer, staff_user):
    tokens = sign_in(customer.email)
    admin = Client()
    admin.force_login(staff_user)

    response = admin.post(f"/admin/accounts/user/{customer.pk}/password/", {
        "password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true",
    })

    assert response.status_code == 302, response.content.decode()[:2000]
    assert profile_status(tokens["token"]) == 401
    assert refresh_status(tokens["refresh"]) == 401


@pytest.mark.parametrize("user_id", ["abc", "", "1e3", "١", "99999999999999999999999", None, ["1"], True])
def test_a_validly_signed_token_with_a_malformed_user_id_is_a_401(customer, user_id):
    access = APIClient().post(LOGIN, {"email": customer.email, "password": PASSWORD}, format="json").json()["token"]
    claims = jwt.decode(access, options={"verify_signature": False})
    claims["user_id"] = user_id
    forged = jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    response = client.get(PROFILE)

    assert response.status_code == 401
    assert response.json()["code"] in {"token_not_valid", "authentication_failed"}


def test_a_refresh_token_with_a_malformed_user_id_is_a_401(customer):
    refresh = sign_in(customer.email)["refresh"]
    claims = jwt.decode(refresh, options={"verify_signature": False})
    claims["user_id"] = "abc"

    assert refresh_status(jwt.encode(claims, settings.SECRET_KEY, algorithm="HS256")) == 401


def test_expired_tokens_are_flushed_daily_by_a_schedule(customer):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone
    from django_q.models import Schedule
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    schedule = Schedule.objects.get(name="flush-expired-tokens")
    assert (schedule.func, schedule.args, schedule.schedule_type) == (
        "django.core.management.call_command", "'flushexpiredtokens'", Schedule.DAILY)
    live, expired = sign_in(customer.email), sign_in(customer.email)
    assert refresh_status(expired["refresh"]) == 200  # spent: blacklisted
    OutstandingToken.objects.filter(token=expired["refresh"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    call_command("flushexpiredtokens")

    assert list(OutstandingToken.objects.values_list("token", flat=True).filter(token__in=[
        live["refresh"], expired["refresh"]])) == [live["refresh"]]


@pytest.mark.parametrize("claims", [{"jti": None}, {"exp": "9999999999"}, {"exp": 1e20}, {"token_type": None}])
def test_validly_signed_tokens_with_odd_claims_are_401_everywhere(customer, claims):
    tokens = sign_in(customer.email)

    def forged(raw: str) -> str:
        payload = jwt.decode(raw, options={"verify_signature": False})
        for name, value in claims.items():
            if value is None:
                payload.pop(name, None)
            else:
                payload[name] = value
        return jwt.encode(payload, settings.SECRET_KEY, algorithm="HS256")

    assert profile_status(forged(tokens["token"])) == 401
    assert refresh_status(forged(tokens["refresh"])) == 401
    assert APIClient().post(LOGOUT, {"refresh": forged(tokens["refresh"])}, format="json").status_code == 401
