"""Rate limits: /api per client (burst and sustained), sign-in and sign-up per address, failed
sign-ins per account, across processes through Redis; CORS on /api."""
import http.cookiejar
import json
import re
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlencode

import pytest

from store import throttling
from tests.conftest import PASSWORD
from tests.ops.conftest import PRODUCTION_RATE_LIMITS, TEST_REDIS_URL, http_get, process_env

pytestmark = pytest.mark.django_db


def assert_throttled(response, *, max_wait: int):
    assert response.status_code == 429, response.content
    body = response.json()
    assert body["code"] == "throttled"
    assert body["error"]
    assert 1 <= int(response["Retry-After"]) <= max_wait
    return body


# --- /api per client ---------------------------------------------------------------------------

def test_the_51st_request_inside_a_burst_window_is_refused(api_client, rate_limits, client_address, catalog):
    for number in range(1, 51):
        response = api_client.get("/api/products", REMOTE_ADDR=client_address)
        assert response.status_code == 200, f"request {number}: {response.status_code}"

    body = assert_throttled(api_client.get("/api/products", REMOTE_ADDR=client_address), max_wait=10)
    assert "throttled" in body["error"].lower()
    # Per client: another address still has its whole burst.
    assert api_client.get("/api/products", REMOTE_ADDR="10.255.255.254").status_code == 200


def test_the_sustained_limit_counts_per_minute(api_client, rate_limits, settings, client_address, catalog):
    settings.RATE_LIMITS = {**rate_limits, "API_BURST": "off"}
    for number in range(300):
        assert api_client.get("/api/products", REMOTE_ADDR=client_address).status_code == 200, number

    assert_throttled(api_client.get("/api/products", REMOTE_ADDR=client_address), max_wait=60)


def test_a_signed_in_client_is_counted_by_user_not_by_address(rate_limits, settings, jwt_client, make_user):
    settings.RATE_LIMITS = {**rate_limits, "API_BURST": "3/10s"}
    first, second = jwt_client(make_user()), jwt_client(make_user())

    for _ in range(3):
        assert first.get("/api/orders", REMOTE_ADDR="10.1.1.1").status_code == 200
    # Another address does not help the same user…
    assert_throttled(first.get("/api/orders", REMOTE_ADDR="10.1.1.2"), max_wait=10)
    # …and another user on the same address has a budget of their own.
    assert second.get("/api/orders", REMOTE_ADDR="10.1.1.1").status_code == 200


def test_x_forwarded_for_counts_only_behind_a_trusted_proxy(api_client, rate_limits, settings, client_address, catalog):
    settings.RATE_LIMITS = {**rate_limits, "API_BURST": "2/10s"}

    def get(remote, forwarded):
        return api_client.get("/api/products", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    # Directly connected: a client cannot pick a fresh identity by sending X-Forwarded-For.
    settings.TRUSTED_PROXY_COUNT = 0
    for forwarded in ("1.1.1.1", "2.2.2.2"):
        assert get(client_address, forwarded).status_code == 200
    assert_throttled(get(client_address, "3.3.3.3"), max_wait=10)

    # Behind one proxy: the address that proxy appended is the client (what the client sent is not).
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "172.30.0.2"
    for _ in range(2):
        assert get(proxy, "9.9.9.9, 203.0.113.7").status_code == 200
    assert_throttled(get(proxy, "8.8.8.8, 203.0.113.7"), max_wait=10)
    assert get(proxy, "203.0.113.8").status_code == 200


def test_rates_are_parsed_from_the_settings():
    assert throttling.parse_rate("300/min") == throttling.Rate(300, 60)
    assert throttling.parse_rate("50/10s") == throttling.Rate(50, 10)
    assert throttling.parse_rate("5/15min") == throttling.Rate(5, 900)
    assert throttling.parse_rate("1000/h") == throttling.Rate(1000, 3600)
    assert throttling.parse_rate("off") is None
    with pytest.raises(ValueError):
        throttling.parse_rate("fast")


# --- sign-in and sign-up per address -----------------------------------------------------------

def test_api_and_page_sign_ins_share_ten_a_minute_per_address(api_client, client, rate_limits, client_address):
    for number in range(5):
        response = api_client.post("/api/auth/login", {"email": f"nobody{number}@example.com", "password": "x"},
                                   format="json", REMOTE_ADDR=client_address)
        assert response.status_code == 401
        page = client.post("/accounts/login/", {"username": f"nobody{number}@example.com", "password": "x"},
                           REMOTE_ADDR=client_address)
        assert page.status_code == 200

    assert_throttled(api_client.post("/api/auth/login", {"email": "a@example.com", "password": "x"}, format="json",
                                     REMOTE_ADDR=client_address), max_wait=60)
    page = client.post("/accounts/login/", {"username": "a@example.com", "password": "x"}, REMOTE_ADDR=client_address)
    assert page.status_code == 429
    assert "Too many sign-in attempts from your address" in page.content.decode()
    assert 1 <= int(page["Retry-After"]) <= 60
    # The login page itself still shows.
    assert client.get("/accounts/login/", REMOTE_ADDR=client_address).status_code == 200


def test_sign_ups_are_limited_per_address(api_client, client, rate_limits, client_address):
    for number in range(10):
        response = api_client.post(
            "/api/auth/register",
            {"email": f"new-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD, "name": f"New {number}"},
            format="json", REMOTE_ADDR=client_address,
        )
        assert response.status_code == 201

    assert_throttled(api_client.post("/api/auth/register", {"email": "late@example.com", "password": PASSWORD,
                                                            "name": "Late"}, format="json", REMOTE_ADDR=client_address),
                     max_wait=60)
    form = {"email": "late@example.com", "name": "Late Comer", "password1": PASSWORD, "password2": PASSWORD}
    page = client.post("/accounts/register/", form, REMOTE_ADDR=client_address)
    assert page.status_code == 429
    html = page.content.decode()
    assert "Too many sign-up attempts from your address" in html
    assert 'value="late@example.com"' in html  # what the user typed is kept
    from accounts.models import User

    assert not User.objects.filter(email="late@example.com").exists()


# --- failed sign-ins per account -----------------------------------------------------------------

LOCKED = "Too many failed sign-in attempts for this account"


def test_the_sixth_api_sign_in_after_five_failures_is_refused_even_with_the_right_password(
    api_client, client, rate_limits, make_user
):
    user = make_user()
    for number in range(5):
        response = api_client.post("/api/auth/login", {"email": user.email, "password": "wrong-password"},
                                   format="json", REMOTE_ADDR=f"10.9.0.{number + 1}")
        assert response.status_code == 401

    response = api_client.post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json",
                               REMOTE_ADDR="10.9.1.1")
    body = assert_throttled(response, max_wait=900)
    assert LOCKED in body["error"]
    assert "15 minutes" in body["error"]
    assert "token" not in body
    # The same account is refused on the page too, and the case of the address does not matter.
    page = client.post("/accounts/login/", {"username": user.email.upper(), "password": PASSWORD},
                       REMOTE_ADDR="10.9.1.2")
    assert page.status_code == 429
    assert LOCKED in page.content.decode()
    assert "_auth_user_id" not in client.session
    # Another account signs in as usual.
    other = make_user()
    assert api_client.post("/api/auth/login", {"email": other.email, "password": PASSWORD}, format="json",
                           REMOTE_ADDR="10.9.1.3").status_code == 200


def test_the_sixth_page_sign_in_after_five_failures_is_refused_even_with_the_right_password(
    client, api_client, rate_limits, make_user
):
    user = make_user()
    for _ in range(5):
        page = client.post("/accounts/login/", {"username": user.email, "password": "wrong-password"},
                           REMOTE_ADDR="10.8.0.1")
        assert page.status_code == 200
        assert "Incorrect e-mail address or password." in page.content.decode()

    page = client.post("/accounts/login/", {"username": user.email, "password": PASSWORD}, REMOTE_ADDR="10.8.0.2")

    assert page.status_code == 429
    html = page.content.decode()
    assert LOCKED in html
    assert f'value="{user.email}"' in html
    assert 840 <= int(page["Retry-After"]) <= 900
    assert "_auth_user_id" not in client.session
    response = api_client.post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json",
                               REMOTE_ADDR="10.8.0.3")
    assert_throttled(response, max_wait=900)


def test_four_failures_still_let_the_right_password_in(client, rate_limits, make_user):
    user = make_user()
    for _ in range(4):
        client.post("/accounts/login/", {"username": user.email, "password": "wrong"}, REMOTE_ADDR="10.7.0.1")
    response = client.post("/accounts/login/", {"username": user.email, "password": PASSWORD}, REMOTE_ADDR="10.7.0.1")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


# --- across processes, through Redis -----------------------------------------------------------

@pytest.mark.worker
def test_the_burst_limit_holds_across_two_processes_sharing_redis(transactional_db, catalog, web_servers):
    env = process_env(
        REDIS_URL=TEST_REDIS_URL,
        CACHE_KEY_PREFIX=f"ops-{uuid.uuid4().hex[:12]}",
        **{f"RATE_LIMIT_{name}": rate for name, rate in PRODUCTION_RATE_LIMITS.items()},
    )
    first, second = web_servers(env), web_servers(env)

    # 50 requests, alternating between the two processes: the client's one burst window.
    for number in range(50):
        server = (first, second)[number % 2]
        status, _, body = http_get(f"{server.url}/api/products")
        assert status == 200, f"request {number + 1} to {server.url}: {status} {body[:200]}"

    for server in (first, second):
        status, headers, body = http_get(f"{server.url}/api/products")
        assert status == 429
        assert json.loads(body)["code"] == "throttled"
        assert 1 <= int(headers["Retry-After"]) <= 10


# --- CORS on /api ---------------------------------------------------------------------------------

def test_cors_allows_the_configured_origins_on_the_api_only(client, settings, catalog):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    settings.CORS_ALLOW_ALL_ORIGINS = False

    preflight = client.options("/api/orders", HTTP_ORIGIN="https://app.example.com",
                               HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                               HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization,content-type")
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "authorization" in preflight["Access-Control-Allow-Headers"].lower()

    response = client.get("/api/products", HTTP_ORIGIN="https://app.example.com")
    assert response["Access-Control-Allow-Origin"] == "https://app.example.com"
    exposed = response["Access-Control-Expose-Headers"]
    assert "X-Request-ID" in exposed and "Retry-After" in exposed

    assert "Access-Control-Allow-Origin" not in client.get("/api/products", HTTP_ORIGIN="https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in client.get("/", HTTP_ORIGIN="https://app.example.com")


# --- across processes on one machine: the shared file cache and axes' tables -------------------

class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand redirects back to the caller, who checks where they go."""

    def redirect_request(self, *args, **kwargs):
        return None


class Visitor:
    """A browser-like HTTP client: cookies, and the CSRF token of the form it fetched."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect())

    def request(self, url: str, *, data: bytes | None = None, headers: dict | None = None) -> tuple[int, dict, str]:
        request = urllib.request.Request(url, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def post_form(self, base: str, path: str, fields: dict) -> tuple[int, dict, str]:
        """GET the form (for its CSRF token), then POST it back with `fields`."""
        status, _, html = self.request(base + path)
        assert status == 200, html[:300]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        body = urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
        return self.request(base + path, data=body, headers={"Referer": base + path})

    def signed_in(self) -> bool:
        return any(cookie.name == "sessionid" for cookie in self.jar)


def api_login(base: str, email: str, password: str) -> tuple[int, dict, str]:
    return Visitor().request(
        f"{base}/api/auth/login", data=json.dumps({"email": email, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )


@pytest.mark.worker
def test_six_wrong_passwords_over_three_sign_in_paths_and_two_processes_lock_the_account_everywhere(
    transactional_db, web_servers, make_user, tmp_path
):
    """The default one-machine layout (no Redis): two gunicorn processes share the lock."""
    staff = make_user("night-shift@example.com", name="Nina Night", is_staff=True, is_superuser=True)
    # Sign-ins per address out of reach here: this test is about the account's lock.
    env = process_env(DATA_DIR=tmp_path, **{f"RATE_LIMIT_{name}": rate for name, rate in
                                           {**PRODUCTION_RATE_LIMITS, "LOGIN": "100/min"}.items()})
    env.pop("REDIS_URL", None)
    first, second = web_servers(env), web_servers(env)
    wrong = "not-the-password"

    def storefront(base, password):
        visitor = Visitor()
        status, _, html = visitor.post_form(base, "/accounts/login/", {"username": staff.email, "password": password})
        return status, html, visitor.signed_in()

    def admin(base, password):
        visitor = Visitor()
        status, _, html = visitor.post_form(base, "/admin/login/?next=/admin/",
                                            {"username": staff.email, "password": password, "next": "/admin/"})
        return status, html, visitor.signed_in()

    def api(base, password):
        status, _, body = api_login(base, staff.email, password)
        return status, body, "token" in body

    # Five failures, alternating paths and processes: each is answered as a wrong password.
    for number, (path, server) in enumerate([(storefront, first), (api, second), (admin, first),
                                             (storefront, second), (api, first)]):
        status, body, signed_in = path(server.url, wrong)
        assert not signed_in
        assert status in (200, 401), f"failure {number + 1} on {server.url}: {status} {body[:300]}"

    # The sixth wrong password, and then the right one, on every path of both processes: locked.
    assert admin(second.url, wrong)[0] == 429
    for server in (first, second):
        for path in (storefront, admin, api):
            status, body, signed_in = path(server.url, PASSWORD)
            assert (status, signed_in) == (429, False), f"{path.__name__} on {server.url}: {status} {body[:300]}"
            assert LOCKED in body


@pytest.mark.worker
def test_sign_in_and_burst_limits_hold_across_two_processes_without_redis(transactional_db, web_servers, catalog,
                                                                          tmp_path):
    # Behind one trusted proxy, so each half of the test is a client address of its own.
    env = process_env(DATA_DIR=tmp_path, TRUSTED_PROXY_COUNT=1,
                      **{f"RATE_LIMIT_{name}": rate for name, rate in PRODUCTION_RATE_LIMITS.items()})
    env.pop("REDIS_URL", None)
    first, second = web_servers(env), web_servers(env)
    signer, browser = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "203.0.113.8"}

    def sign_in(base: str, email: str):
        return Visitor().request(f"{base}/api/auth/login", data=json.dumps({"email": email, "password": "x"}).encode(),
                                 headers={"Content-Type": "application/json", **signer})

    # Ten sign-ins a minute per address, counted together by both processes.
    for number in range(10):
        server = (first, second)[number % 2]
        status, _, body = sign_in(server.url, f"nobody{number}@example.com")
        assert status == 401, f"sign-in {number + 1} to {server.url}: {status} {body[:200]}"
    for server in (first, second):
        status, headers, body = sign_in(server.url, "late@example.com")
        assert status == 429
        assert "Too many sign-in attempts from your address" in json.loads(body)["error"]
        assert 1 <= int(headers["Retry-After"]) <= 60

    # Fifty API requests in a burst window, whichever process answers.
    for number in range(50):
        server = (first, second)[number % 2]
        status, _, body = http_get(f"{server.url}/api/products", headers=browser)
        assert status == 200, f"request {number + 1} to {server.url}: {status} {body[:200]}"
    for server in (first, second):
        status, headers, _ = http_get(f"{server.url}/api/products", headers=browser)
        assert status == 429
        assert 1 <= int(headers["Retry-After"]) <= 10


@pytest.mark.worker
def test_concurrent_guesses_check_no_more_passwords_than_the_lock_allows(transactional_db, web_servers, make_user,
                                                                         tmp_path):
    """Twenty wrong passwords at once, over two processes: five are checked, the rest meet the lock."""
    from concurrent.futures import ThreadPoolExecutor

    from axes.models import AccessAttempt

    target = make_user("raced@example.com")
    env = process_env(DATA_DIR=tmp_path, **{f"RATE_LIMIT_{name}": rate for name, rate in
                                           {**PRODUCTION_RATE_LIMITS, "LOGIN": "1000/min"}.items()})
    env.pop("REDIS_URL", None)
    servers = [web_servers(env), web_servers(env)]

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda n: api_login(servers[n % 2].url, target.email, f"guess-{n}")[0], range(20)))

    assert sorted(statuses) == [401] * 5 + [429] * 15
    assert sum(AccessAttempt.objects.filter(username=target.email).values_list("failures_since_start", flat=True)) == 5
    assert api_login(servers[0].url, target.email, PASSWORD)[0] == 429
