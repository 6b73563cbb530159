"""Staff's second factor: with STAFF_REQUIRE_2FA on, a member who may refund (or a superuser)
reaches neither the admin nor a staff API action without it; with it off nothing changes."""
import time
from decimal import Decimal

import jwt
import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts import second_factor
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


def enrolled(user) -> tuple[TOTPDevice, list[str]]:
    device = second_factor.enrolment_start(user=user)
    return second_factor.enrolment_confirm(user=user, code=code(device))


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

def test_refunder_enrols_at_first_sign_in_then_reaches_the_admin(required, client, refunder):
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
    time.sleep(1.1)  # django-otp throttles the device for a second after a wrong code
    confirmed = client.post(SETUP, {"code": code(device), "next": "/admin/orders/order/"})
    assert confirmed.status_code == 200
    codes = confirmed.context["codes"]
    assert len(codes) == second_factor.RECOVERY_CODES
    assert all(recovery in confirmed.content.decode() for recovery in codes)
    assert client.get("/admin/orders/order/").status_code == 200
    # The codes are shown once: the set-up page now sends an enrolled member to the code page.
    assert client.get(SETUP)["Location"].startswith(VERIFY)


def test_enrolled_refunder_gives_the_code_after_the_password(required, client, refunder):
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

    time.sleep(1.1)
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

def test_api_staff_action_needs_the_tokens_second_factor(required, refunder, customer, order_in_state):
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
    time.sleep(1.1)
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


def test_api_recovery_code_works_once(required, refunder):
    _, codes = enrolled(refunder)
    assert api_sign_in(refunder, otp=codes[3])["status"] == 200
    time.sleep(1.1)
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
