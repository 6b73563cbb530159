"""/api/auth: the exact shapes of the seed's API contract, and its error bodies."""
import pytest

from accounts.models import User

PASSWORD = "Sturdy-Passw0rd!"
REGISTER = "/api/auth/register"
LOGIN = "/api/auth/login"
REFRESH = "/api/auth/refresh"
PROFILE = "/api/auth/profile"


def assert_auth_body(body: dict, user: User) -> None:
    assert set(body) == {"token", "refresh", "user", "secondFactor"}
    assert body["secondFactor"] == "not_needed"
    assert body["user"] == {"id": user.pk, "email": user.email, "name": user.name}
    assert body["token"] and body["refresh"] and body["token"] != body["refresh"]


@pytest.mark.django_db
def test_register_returns_201_with_tokens_and_the_user(api_client):
    response = api_client.post(
        REGISTER, {"email": "Grace@Example.com", "password": PASSWORD, "name": "Grace Hopper"}, format="json"
    )

    assert response.status_code == 201
    user = User.objects.get(email="grace@example.com")
    assert_auth_body(response.json(), user)
    assert response.json()["user"]["name"] == "Grace Hopper"


@pytest.mark.django_db
def test_the_registered_token_opens_the_profile(api_client):
    token = api_client.post(
        REGISTER, {"email": "grace@example.com", "password": PASSWORD, "name": "Grace Hopper"}, format="json"
    ).json()["token"]

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.get(PROFILE)

    assert response.status_code == 200
    assert response.json()["email"] == "grace@example.com"


def test_register_with_a_taken_email_is_400_with_fields_email(api_client, customer):
    response = api_client.post(
        REGISTER, {"email": "customer@example.com", "password": PASSWORD, "name": "Copy Cat"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": "An account with this e-mail address already exists.",
        "code": "invalid",
        "fields": {"email": ["An account with this e-mail address already exists."]},
    }


@pytest.mark.django_db
def test_register_with_a_weak_password_is_400_with_fields_password(api_client):
    response = api_client.post(
        REGISTER, {"email": "weak@example.com", "password": "12345678", "name": "Weak"}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "This password is entirely numeric." in body["fields"]["password"]
    assert "This password is too common." in body["fields"]["password"]
    assert not User.objects.filter(email="weak@example.com").exists()


@pytest.mark.django_db
def test_register_names_missing_and_malformed_fields(api_client):
    response = api_client.post(REGISTER, {"email": "not-an-email"}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["error"].startswith("Invalid input")
    assert set(body["fields"]) == {"email", "password", "name"}
    assert body["fields"]["email"] == ["Enter a valid email address."]


def test_login_returns_200_with_tokens_and_the_user(api_client, customer):
    response = api_client.post(LOGIN, {"email": "Customer@Example.com", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert_auth_body(response.json(), customer)


@pytest.mark.parametrize(
    ("email", "password"), [("customer@example.com", "Wrong-Passw0rd!"), ("no@example.com", PASSWORD)]
)
def test_login_with_bad_credentials_is_401_with_error_and_code(api_client, customer, email, password):
    response = api_client.post(LOGIN, {"email": email, "password": password}, format="json")

    assert response.status_code == 401
    assert response.json() == {"error": "Incorrect e-mail address or password.", "code": "invalid_credentials"}


def test_login_ignores_a_stale_authorization_header(api_client, customer):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer expired.or.garbage")

    response = api_client.post(LOGIN, {"email": "customer@example.com", "password": PASSWORD}, format="json")

    assert response.status_code == 200


def test_refresh_returns_a_new_pair_and_the_old_refresh_token_is_refused(api_client, customer):
    refresh = api_client.post(LOGIN, {"email": "customer@example.com", "password": PASSWORD}, format="json").json()[
        "refresh"
    ]

    response = api_client.post(REFRESH, {"refresh": refresh}, format="json")

    assert response.status_code == 200
    assert set(response.json()) == {"token", "refresh"}
    reused = api_client.post(REFRESH, {"refresh": refresh}, format="json")
    assert reused.status_code == 401
    assert reused.json()["code"] == "token_not_valid"
    assert api_client.post(REFRESH, {"refresh": response.json()["refresh"]}, format="json").status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['token']}")
    assert api_client.get(PROFILE).json()["email"] == "customer@example.com"


@pytest.mark.django_db
def test_refresh_with_a_bad_token_is_401(api_client):
    response = api_client.post(REFRESH, {"refresh": "garbage"}, format="json")

    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"error", "code"}
    assert body["code"] == "token_not_valid"


@pytest.mark.django_db
def test_refresh_without_a_token_is_400(api_client):
    response = api_client.post(REFRESH, {}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"refresh": ["This field is required."]}


def test_profile_returns_id_email_and_name(customer_api, customer):
    response = customer_api.get(PROFILE)

    assert response.status_code == 200
    assert response.json() == {"id": customer.pk, "email": "customer@example.com", "name": "Casey Customer"}


@pytest.mark.django_db
def test_profile_needs_a_token(api_client):
    response = api_client.get(PROFILE)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("method", ["put", "patch"])
def test_profile_put_and_patch_change_the_name_but_not_the_email(customer_api, customer, method):
    response = getattr(customer_api, method)(
        PROFILE, {"name": "Casey Renamed", "email": "hijack@example.com"}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {"id": customer.pk, "email": "customer@example.com", "name": "Casey Renamed"}
    customer.refresh_from_db()
    assert (customer.name, customer.email) == ("Casey Renamed", "customer@example.com")


def test_profile_put_requires_the_name(customer_api):
    response = customer_api.put(PROFILE, {}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"] == {"name": ["This field is required."]}


def test_profile_patch_without_a_name_changes_nothing(customer_api, customer):
    response = customer_api.patch(PROFILE, {}, format="json")

    assert response.status_code == 200
    assert response.json()["name"] == "Casey Customer"


def test_profile_refuses_a_blank_name(customer_api, customer):
    response = customer_api.patch(PROFILE, {"name": "   "}, format="json")

    assert response.status_code == 400
    assert "name" in response.json()["fields"]
    customer.refresh_from_db()
    assert customer.name == "Casey Customer"


@pytest.mark.django_db
def test_the_schema_documents_the_auth_request_and_response_shapes(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    register = schema["paths"]["/api/auth/register"]["post"]
    assert set(register["responses"]) >= {"201", "400"}
    request_ref = register["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][request_ref]["properties"]) == {"email", "password", "name"}
    response_ref = register["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][response_ref]["properties"]) == {"token", "refresh", "user", "secondFactor"}
    assert set(schema["paths"]["/api/auth/profile"]) >= {"get", "put", "patch"}
    assert "401" in schema["paths"]["/api/auth/login"]["post"]["responses"]
