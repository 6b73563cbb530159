"""Staff's second factor: with STAFF_REQUIRE_2FA on, a member who may refund (or a superuser)
reaches neither the admin nor a staff API action without it; with it off nothing changes."""
import re
import time
from decimal import Decimal

import jwt
import pytest
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts import second_factor
from catalog.models import Product
from orders.models import Order
from tests.conftest import PASSWORD

LOGIN = "/api/auth/login"
VERIFY = "/accounts/second-factor/"
SETUP = "/accounts/second-factor/setup/"


@pytest.fixture
def required(settings):
    settings.STAFF_REQUIRE_2FA = True


def code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The app's code now (or `steps_ahead` 30-second steps on: django-otp takes each step once)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=steps_ahead):06d}"


def wrong(device: TOTPDevice) -> str:
    """Six digits that are not the app's code now."""
    return f"{(int(code(device)) + 500000) % 1000000:06d}"


def enrolled(user, session_key: str = "enrolling-session") -> tuple[TOTPDevice, list[str]]:
    device = second_factor.enrolment_start(user=user, session_key=session_key)
    return second_factor.enrolment_confirm(user=user, session_key=session_key, code=code(device))


def admin_sign_in(client: Client, user, next_url: str = "/admin/"):
    return client.post(f"/admin/login/?next={next_url}", {"username": user.email, "password": PASSWORD})


def api_sign_in(user, **otp) -> dict:
    response = APIClient().post(LOGIN, {"email": user.email, "password": PASSWORD, **otp}, format="json")
    return {"status": response.status_code, **response.json()}


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


# --- the admin -----------------------------------------------------------------------------

def test_refunder_enrols_at_first_sign_in_then_reaches_the_admin(required, clock, client, refunder):
    signed_in = admin_sign_in(client, refunder, "/admin/orders/order/")
    assert signed_in.status_code == 302
    assert signed_in["Location"].startswith(f"{VERIFY}?next=")
    # No app yet: the code page leads to the set-up, and no admin page opens meanwhile.
    assert client.get(signed_in["Location"])["Location"].startswith(SETUP)
    for path in ("/admin/", "/admin/orders/order/"):
        assert client.get(path, follow=True).redirect_chain[-1][0].startswith(SETUP)

    setup = client.get(f"{SETUP}?next=/admin/orders/order/")
    assert setup.status_code == 200
    device = TOTPDevice.objects.get(user=refunder, confirmed=False)
    assert setup.context["secret"].replace(" ", "") in device.config_url
    assert setup.context["qr"].startswith("data:image/svg+xml")

    assert client.post(SETUP, {"code": wrong(device)}).status_code == 400
    clock.advance(1.1)  # django-otp throttles the device for a second after a wrong code
    confirmed = client.post(SETUP, {"code": code(device), "next": "/admin/orders/order/"})
    assert confirmed.status_code == 200
    codes = confirmed.context["codes"]
    assert len(codes) == second_factor.RECOVERY_CODES
    assert all(recovery in confirmed.content.decode() for recovery in codes)
    assert client.get("/admin/orders/order/").status_code == 200
    # The codes are shown once: the set-up page now sends an enrolled member to the code page.
    assert client.get(SETUP)["Location"].startswith(VERIFY)


def test_enrolled_refunder_gives_the_code_after_the_password(required, clock, client, refunder):
    device, _ = enrolled(refunder)
    signed_in = admin_sign_in(client, refunder)
    assert signed_in["Location"] == f"{VERIFY}?next=%2Fadmin%2F"
    assert client.get("/admin/").status_code == 302
    assert client.get(f"/admin/orders/order/{1}/change/").status_code == 302

    refused = client.post(VERIFY, {"code": wrong(device), "next": "/admin/"})
    assert refused.status_code == 400
    assert "not right" in refused.content.decode()
    throttled = client.post(VERIFY, {"code": code(device, 1), "next": "/admin/"})
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) >= 1

    clock.advance(1.1)
    verified = client.post(VERIFY, {"code": code(device, 1), "next": "/admin/"})
    assert verified.status_code == 302 and verified["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    # The same code is not good twice.
    other = Client()
    admin_sign_in(other, refunder)
    assert other.post(VERIFY, {"code": code(device, 1)}).status_code == 400


def test_recovery_code_signs_in_once(required, refunder):
    _, codes = enrolled(refunder)
    first = Client()
    admin_sign_in(first, refunder)
    assert first.post(VERIFY, {"code": codes[0].upper(), "next": "/admin/"})["Location"] == "/admin/"
    assert first.get("/admin/").status_code == 200
    assert StaticToken.objects.filter(device__user=refunder).count() == second_factor.RECOVERY_CODES - 1

    second = Client()
    admin_sign_in(second, refunder)
    assert second.post(VERIFY, {"code": codes[0]}).status_code == 400
    assert second.get("/admin/").status_code == 302


def test_recovery_codes_are_renewed_only_after_the_second_factor(required, client, refunder):
    device, codes = enrolled(refunder)
    admin_sign_in(client, refunder)
    assert client.post("/accounts/second-factor/recovery-codes/")["Location"].startswith(VERIFY)
    client.post(VERIFY, {"code": code(device, 1)})
    renewed = client.post("/accounts/second-factor/recovery-codes/")
    assert renewed.status_code == 200
    assert set(renewed.context["codes"]).isdisjoint(codes)
    assert sorted(StaticToken.objects.filter(device__user=refunder).values_list("token", flat=True)) == \
        sorted(renewed.context["codes"])


def test_code_pages_check_csrf(required, refunder):
    client = Client(enforce_csrf_checks=True)
    device, _ = enrolled(refunder)
    client.force_login(refunder)
    assert client.post(VERIFY, {"code": code(device, 1)}).status_code == 403
    assert client.get("/admin/").status_code == 302


def test_superuser_needs_it_shop_staff_and_customers_do_not(required, client, staff_user, shop_staff, customer):
    assert admin_sign_in(client, staff_user)["Location"].startswith(VERIFY)
    clerk = Client()
    assert admin_sign_in(clerk, shop_staff)["Location"] == "/admin/"
    assert clerk.get("/admin/orders/order/").status_code == 200
    shopper = Client()
    shopper.force_login(customer)
    assert shopper.get("/orders/").status_code == 200
    assert shopper.get(VERIFY).status_code == 404


def test_requirement_off_changes_nothing(client, refunder):
    assert admin_sign_in(client, refunder, "/admin/orders/order/")["Location"] == "/admin/orders/order/"
    assert client.get("/admin/orders/order/").status_code == 200
    assert not TOTPDevice.objects.filter(user=refunder).exists()
    signed_in = api_sign_in(refunder)
    assert bearer(signed_in["token"]).get("/api/review-rules").status_code == 200


# --- the API ---------------------------------------------------------------------------------

def test_api_staff_action_needs_the_tokens_second_factor(required, clock, refunder, customer, order_in_state):
    order = order_in_state("delivered")
    device, _ = enrolled(refunder)

    plain = api_sign_in(refunder)
    assert plain["status"] == 200
    assert "amr" not in jwt.decode(plain["token"], options={"verify_signature": False})
    refused = bearer(plain["token"]).post(f"/api/orders/{order.pk}/refund", {"amount": "1.00", "reason": "Dented"},
                                          format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "second_factor_required"
    assert "second factor" in refused.json()["error"]
    assert bearer(plain["token"]).get("/api/review-rules").json()["code"] == "second_factor_required"
    assert Order.objects.get(pk=order.pk).refunded_amount == Decimal("0.00")

    refused = api_sign_in(refunder, otp=wrong(device))
    assert (refused["status"], refused["code"]) == (401, "otp_invalid")
    clock.advance(1.1)
    given = api_sign_in(refunder, otp=code(device, 1))
    assert given["status"] == 200
    assert jwt.decode(given["token"], options={"verify_signature": False})["amr"] == ["pwd", "otp"]
    refunded = bearer(given["token"]).post(f"/api/orders/{order.pk}/refund", {"amount": "1.00", "reason": "Dented"},
                                           format="json")
    assert refunded.status_code == 200, refunded.json()
    assert Order.objects.get(pk=order.pk).refunded_amount == Decimal("1.00")

    # A refreshed pair keeps the claim; a refresh token without it never gains it.
    renewed = APIClient().post("/api/auth/refresh", {"refresh": given["refresh"]}, format="json").json()
    assert bearer(renewed["token"]).get("/api/review-rules").status_code == 200
    still_plain = APIClient().post("/api/auth/refresh", {"refresh": plain["refresh"]}, format="json").json()
    assert bearer(still_plain["token"]).get("/api/review-rules").status_code == 403


def test_api_recovery_code_works_once(required, clock, refunder):
    _, codes = enrolled(refunder)
    assert api_sign_in(refunder, otp=codes[3])["status"] == 200
    clock.advance(1.1)
    again = api_sign_in(refunder, otp=codes[3])
    assert (again["status"], again["code"]) == (401, "otp_invalid")


def test_api_otp_without_a_device_is_refused(required, refunder):
    refused = api_sign_in(refunder, otp="123456")
    assert (refused["status"], refused["code"]) == (401, "otp_invalid")
    assert "set one up" in refused["error"]


def test_api_customers_and_shop_staff_are_unaffected(required, customer, shop_staff):
    assert bearer(api_sign_in(customer)["token"]).get("/api/orders").status_code == 200
    assert bearer(api_sign_in(shop_staff)["token"]).get("/api/review-rules").status_code == 200


def test_api_password_change_keeps_the_second_factor_of_its_token(required, refunder):
    device, _ = enrolled(refunder)
    given = api_sign_in(refunder, otp=code(device, 1))
    changed = bearer(given["token"]).post("/api/auth/password", {"currentPassword": PASSWORD,
                                                                 "newPassword": "a-new-long-passphrase-42"},
                                          format="json")
    assert changed.status_code == 200
    assert bearer(changed.json()["token"]).get("/api/review-rules").status_code == 200
    assert bearer(given["token"]).get("/api/review-rules").status_code == 401  # the old pair is revoked


# --- what a second factor is worth, and for how long -------------------------------------------

def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def refreshed(refresh: str) -> dict:
    response = APIClient().post("/api/auth/refresh", {"refresh": refresh}, format="json")
    return {"status": response.status_code, **response.json()}


def verified_admin(client: Client, user) -> TOTPDevice:
    """`client` signed in to the admin as `user`, with the second factor given."""
    device, _ = enrolled(user, session_key=f"admin-{user.pk}")
    admin_sign_in(client, user)
    assert client.post(VERIFY, {"code": code(device, 1), "next": "/admin/"})["Location"] == "/admin/"
    return device


def test_api_token_names_the_device_and_when(required, refunder):
    device, _ = enrolled(refunder)
    given = api_sign_in(refunder, otp=code(device, 1))
    said = claims(given["token"])
    assert said["otp_device"] == device.persistent_id
    assert abs(said["auth_time"] - time.time()) < 30
    # A refresh keeps the time the code was given: it does not start the clock again.
    renewed = refreshed(given["refresh"])
    assert claims(renewed["token"])["auth_time"] == said["auth_time"]


def test_deleting_the_device_in_the_admin_ends_its_tokens_second_factor(required, refunder, staff_user):
    device, _ = enrolled(refunder)
    given = api_sign_in(refunder, otp=code(device, 1))
    plain = api_sign_in(refunder)
    assert bearer(given["token"]).get("/api/review-rules").status_code == 200

    owner = Client()
    verified_admin(owner, staff_user)
    deleted = owner.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()

    # The access token still live no longer counts the code; every refresh token is revoked.
    refused = bearer(given["token"]).get("/api/review-rules")
    assert (refused.status_code, refused.json()["code"]) == (403, "second_factor_required")
    assert refreshed(given["refresh"])["status"] == 401
    assert refreshed(plain["refresh"])["status"] == 401


def test_enrolling_a_new_app_revokes_the_tokens_of_the_old_one(required, refunder):
    device, _ = enrolled(refunder)
    given = api_sign_in(refunder, otp=code(device, 1))
    enrolled(refunder, session_key="a-new-phone")
    assert bearer(given["token"]).get("/api/review-rules").json()["code"] == "second_factor_required"
    assert refreshed(given["refresh"])["status"] == 401


def test_the_second_factor_lasts_its_maximum_age_then_a_refresh_drops_it(required, clock, settings, refunder):
    settings.STAFF_SECOND_FACTOR_MAX_AGE = 2
    device, _ = enrolled(refunder)
    given = api_sign_in(refunder, otp=code(device, 1))
    assert bearer(given["token"]).get("/api/review-rules").status_code == 200
    clock.advance(3)
    assert bearer(given["token"]).get("/api/review-rules").json()["code"] == "second_factor_required"
    renewed = refreshed(given["refresh"])
    assert renewed["status"] == 200
    assert "amr" not in claims(renewed["token"]) and "otp_device" not in claims(renewed["token"])
    assert bearer(renewed["token"]).get("/api/review-rules").json()["code"] == "second_factor_required"


def test_sign_out_on_the_code_page_ends_the_session(required, client, refunder):
    enrolled(refunder)
    admin_sign_in(client, refunder)
    page = client.get(VERIFY).content.decode()
    action = re.search(r'<form method="post" action="([^"]+)" class="second-factor__signout"', page).group(1)
    signed_out = client.post(action, {"next": "/admin/login/"})
    assert signed_out.status_code == 302
    assert "_auth_user_id" not in client.session
    assert client.get(VERIFY)["Location"].startswith("/admin/login/")


def test_each_session_enrolling_gets_its_own_secret(required, refunder):
    mine, attacker = Client(), Client()
    admin_sign_in(mine, refunder)
    admin_sign_in(attacker, refunder)
    secret = mine.get(SETUP).context["secret"]
    assert mine.get(SETUP).context["secret"] == secret  # the same in another tab of the session
    other_secret = attacker.get(SETUP).context["secret"]
    assert other_secret != secret
    assert TOTPDevice.objects.filter(user=refunder, confirmed=False).count() == 2

    mine_device = TOTPDevice.objects.get(user=refunder, key=second_factor._session_key(refunder, mine.session.session_key))
    # A code from the secret shown in my session does not confirm the attacker's.
    assert attacker.post(SETUP, {"code": code(mine_device)}).status_code == 400
    assert mine.post(SETUP, {"code": code(mine_device)}).status_code == 200
    assert list(TOTPDevice.objects.filter(user=refunder).values_list("pk", "confirmed")) == [(mine_device.pk, True)]
    assert attacker.get(VERIFY).status_code == 200  # still asked for a code


def test_wrong_codes_make_a_member_wait_at_most_the_ceiling(required, clock, settings, client, refunder):
    settings.STAFF_SECOND_FACTOR_MAX_WAIT = 2
    device, _ = enrolled(refunder)
    # Twenty wrong codes in a row, as someone with only the password could send them.
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=20,
                                                   throttling_failure_timestamp=timezone.now())
    admin_sign_in(client, refunder)
    throttled = client.post(VERIFY, {"code": code(device, 1), "next": "/admin/"})
    assert throttled.status_code == 429
    assert 1 <= int(throttled["Retry-After"]) <= 2
    assert "2 seconds" in throttled.content.decode() or "1 second" in throttled.content.decode()
    clock.advance(2.1)
    assert client.post(VERIFY, {"code": code(device, 1), "next": "/admin/"})["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_new_recovery_codes_keep_a_session_verified_with_a_recovery_code(required, client, refunder):
    _, codes = enrolled(refunder)
    admin_sign_in(client, refunder)
    assert client.post(VERIFY, {"code": codes[0], "next": "/admin/"})["Location"] == "/admin/"
    renewed = client.post("/accounts/second-factor/recovery-codes/")
    assert renewed.status_code == 200
    assert client.get("/admin/").status_code == 200
    assert sorted(StaticToken.objects.filter(device__user=refunder).values_list("token", flat=True)) == \
        sorted(renewed.context["codes"])


def test_staff_reads_without_the_second_factor_are_refused_not_narrowed(required, refunder, staff_user,
                                                                     order_in_state, catalog):
    order = order_in_state("paid")
    Product.objects.filter(public_id="prod-002").update(is_active=False)
    for member in (refunder, staff_user):
        client = bearer(api_sign_in(member)["token"])
        for path in (f"/api/orders/{order.pk}", "/api/orders"):
            refused = client.get(path)
            assert (refused.status_code, refused.json()["code"]) == (403, "second_factor_required"), (member, path)
    superuser = bearer(api_sign_in(staff_user)["token"])
    assert superuser.get("/api/products/prod-002").json()["code"] == "second_factor_required"
    assert superuser.get("/api/products/prod-001").status_code == 200  # what anyone sees stays open
    device, _ = enrolled(refunder)
    given = bearer(api_sign_in(refunder, otp=code(device, 1))["token"])
    assert given.get(f"/api/orders/{order.pk}").status_code == 200


def test_login_says_whether_the_second_factor_is_needed(required, refunder, customer, shop_staff):
    device, _ = enrolled(refunder)
    assert api_sign_in(refunder)["secondFactor"] == "required"
    assert api_sign_in(refunder, otp=code(device, 1))["secondFactor"] == "given"
    assert api_sign_in(customer)["secondFactor"] == "not_needed"
    assert api_sign_in(shop_staff)["secondFactor"] == "not_needed"


def test_a_customer_sending_a_code_is_told_it_is_not_used(required, customer):
    refused = api_sign_in(customer, otp="123456")
    assert (refused["status"], refused["code"]) == (401, "otp_invalid")
    assert "does not use a second factor" in refused["error"]
    assert "admin" not in refused["error"]


def test_the_admin_names_the_device_sections(required, client, staff_user):
    verified_admin(client, staff_user)
    index = client.get("/admin/").content.decode()
    assert "Second factor: authenticator apps" in index and "Second factor: recovery codes" in index
