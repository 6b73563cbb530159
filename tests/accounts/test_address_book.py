"""The address book: the profile page's list, add, edit, delete and "make default" (owner only,
CSRF), /api/addresses (JWT, owner only, camelCase) and its one-default rule."""
import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import Address

HOME = {"label": "Home", "address": "1 Market Street", "city": "Springfield", "state": "IL", "zip": "62701"}
WORK = {"label": "Work", "address": "9 Office Park", "city": "Chicago", "state": "IL", "zip": "60601-1234"}

pytestmark = pytest.mark.django_db


def add(user, fields=HOME, **extra) -> Address:
    return services.address_create(user=user, **{**fields, **extra})


def defaults(user) -> list[str]:
    return list(Address.objects.filter(user=user, is_default=True).values_list("label", flat=True))


# --- the rule: one default per customer ----------------------------------------------------

def test_the_first_address_is_the_default_and_a_new_default_replaces_it(customer):
    add(customer)
    add(customer, WORK)
    assert defaults(customer) == ["Home"]

    add(customer, {**WORK, "label": "Office"}, is_default=True)

    assert defaults(customer) == ["Office"]


def test_the_database_refuses_a_second_default(customer):
    add(customer)
    with pytest.raises(IntegrityError), transaction.atomic():
        Address.objects.create(user=customer, is_default=True, **WORK)


def test_each_customer_has_a_default_of_their_own(customer, other_customer):
    add(customer)
    add(other_customer)
    assert defaults(customer) == defaults(other_customer) == ["Home"]


# --- the profile page -------------------------------------------------------------------

@pytest.fixture
def signed_in(client, customer):
    client.force_login(customer)
    return client


def test_the_profile_page_lists_the_addresses_with_their_actions(signed_in, customer):
    home, work = add(customer), add(customer, WORK)

    html = signed_in.get(reverse("accounts:profile")).content.decode()

    assert "Address book" in html
    assert "1 Market Street" in html and "Springfield, IL 62701" in html and "9 Office Park" in html
    assert html.count(">Default</span>") == 1
    assert f'action="/accounts/addresses/{work.pk}/default/"' in html
    assert f'action="/accounts/addresses/{home.pk}/default/"' not in html  # already the default
    assert f'href="/accounts/addresses/{home.pk}/edit/"' in html
    assert f'action="/accounts/addresses/{home.pk}/delete/"' in html
    assert 'href="/accounts/addresses/add/"' in html


def test_the_profile_page_says_when_the_book_is_empty(signed_in):
    assert "No saved addresses yet" in signed_in.get(reverse("accounts:profile")).content.decode()


def test_adding_an_address_saves_it_and_returns_to_the_profile(signed_in, customer):
    response = signed_in.post(reverse("accounts:address_add"), HOME, follow=True)

    assert response.redirect_chain[-1][0] == reverse("accounts:profile")
    assert "\u201cHome\u201d was added to your address book." in response.content.decode()
    address = Address.objects.get(user=customer)
    assert address.shipping() == {k: HOME[k] for k in ("address", "city", "state", "zip")}
    assert address.is_default


def test_a_bad_address_is_refused_with_clear_messages_and_nothing_saved(signed_in):
    response = signed_in.post(reverse("accounts:address_add"), {**HOME, "zip": "１２３４５", "city": "   ", "label": ""})

    html = response.content.decode()
    assert response.status_code == 400
    assert "There is a problem" in html
    assert "Enter a ZIP code like 12345 or 12345-6789." in html
    assert '<a href="#id_zip">ZIP code: Enter a ZIP code like 12345 or 12345-6789.</a>' in html
    assert '<a href="#id_city">City: This field is required.</a>' in html
    assert 'aria-invalid="true"' in html and 'aria-describedby="id_zip_error"' in html
    assert Address.objects.count() == 0


def test_editing_changes_the_address(signed_in, customer):
    address = add(customer)

    response = signed_in.post(reverse("accounts:address_edit", args=[address.pk]),
                              {**HOME, "city": "Shelbyville", "is_default": "on"})

    assert response.status_code == 302
    address.refresh_from_db()
    assert address.city == "Shelbyville" and address.is_default


def test_a_bad_edit_changes_nothing(signed_in, customer):
    address = add(customer)

    response = signed_in.post(reverse("accounts:address_edit", args=[address.pk]), {**HOME, "zip": "6270"})

    assert response.status_code == 400
    address.refresh_from_db()
    assert address.zip == "62701"


def test_make_default_moves_the_default(signed_in, customer):
    add(customer)
    work = add(customer, WORK)

    response = signed_in.post(reverse("accounts:address_make_default", args=[work.pk]), follow=True)

    assert "\u201cWork\u201d is now your default address." in response.content.decode()
    assert defaults(customer) == ["Work"]


def test_delete_removes_the_address(signed_in, customer):
    address = add(customer)

    response = signed_in.post(reverse("accounts:address_delete", args=[address.pk]))

    assert response.status_code == 302
    assert not Address.objects.filter(pk=address.pk).exists()


def test_delete_and_make_default_need_a_post(signed_in, customer):
    address = add(customer)
    assert signed_in.get(reverse("accounts:address_delete", args=[address.pk])).status_code == 405
    assert signed_in.get(reverse("accounts:address_make_default", args=[address.pk])).status_code == 405
    assert Address.objects.filter(pk=address.pk).exists()


def test_another_customers_address_is_404_on_every_page_and_untouched(signed_in, other_customer):
    theirs = add(other_customer)

    assert signed_in.get(reverse("accounts:address_edit", args=[theirs.pk])).status_code == 404
    assert signed_in.post(reverse("accounts:address_edit", args=[theirs.pk]), WORK).status_code == 404
    assert signed_in.post(reverse("accounts:address_delete", args=[theirs.pk])).status_code == 404
    assert signed_in.post(reverse("accounts:address_make_default", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.label == "Home" and theirs.is_default


def test_the_address_pages_need_sign_in(client):
    response = client.get(reverse("accounts:address_add"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


def test_the_address_forms_need_the_csrf_token(customer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    address = add(customer)

    assert client.post(reverse("accounts:address_add"), WORK).status_code == 403
    assert client.post(reverse("accounts:address_delete", args=[address.pk])).status_code == 403
    assert Address.objects.filter(user=customer).count() == 1


def test_a_full_book_refuses_another_address(signed_in, customer):
    for number in range(services.ADDRESS_BOOK_LIMIT):
        add(customer, {**HOME, "label": f"Place {number}"})

    response = signed_in.post(reverse("accounts:address_add"), WORK)

    assert response.status_code == 400
    assert "Your address book is full (20 addresses). Delete one to add another." in response.content.decode()
    assert Address.objects.filter(user=customer).count() == services.ADDRESS_BOOK_LIMIT


# --- /api/addresses -----------------------------------------------------------------------

API_HOME = {"label": "Home", "address": "1 Market Street", "city": "Springfield", "state": "IL", "zip": "62701"}


def test_api_create_list_retrieve_in_camel_case(customer_api):
    created = customer_api.post("/api/addresses", API_HOME, format="json")
    second = customer_api.post("/api/addresses", {**API_HOME, "label": "Work", "isDefault": True}, format="json")

    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "label", "address", "city", "state", "zip", "isDefault", "createdAt"}
    assert body["isDefault"] is True
    assert second.json()["isDefault"] is True
    listed = customer_api.get("/api/addresses").json()
    assert [(a["label"], a["isDefault"]) for a in listed] == [("Work", True), ("Home", False)]
    assert customer_api.get(f"/api/addresses/{body['id']}").json()["label"] == "Home"


def test_api_list_refuses_query_parameters_by_name(customer_api):
    customer_api.post("/api/addresses", API_HOME, format="json")

    response = customer_api.get("/api/addresses", {"label": "Home", "page": "2"})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "unknown_parameter"
    assert set(body["fields"]) == {"label", "page"}
    assert body["error"] == "Unknown query parameters label, page: GET /api/addresses takes no query parameters."


def test_api_update_and_partial_update(customer_api, customer):
    address = add(customer)

    put = customer_api.put(f"/api/addresses/{address.pk}", {**API_HOME, "city": "Chicago"}, format="json")
    patch = customer_api.patch(f"/api/addresses/{address.pk}", {"label": "Cabin"}, format="json")

    assert put.status_code == 200 and put.json()["city"] == "Chicago"
    assert patch.status_code == 200 and patch.json()["label"] == "Cabin" and patch.json()["city"] == "Chicago"


def test_api_patch_is_default_moves_the_default(customer_api, customer):
    add(customer)
    work = add(customer, WORK)

    response = customer_api.patch(f"/api/addresses/{work.pk}", {"isDefault": True}, format="json")

    assert response.json()["isDefault"] is True
    assert defaults(customer) == ["Work"]


def test_api_delete(customer_api, customer):
    address = add(customer)
    assert customer_api.delete(f"/api/addresses/{address.pk}").status_code == 204
    assert customer_api.get(f"/api/addresses/{address.pk}").status_code == 404


def test_api_bad_input_is_400_with_fields_and_writes_nothing(customer_api, customer):
    response = customer_api.post("/api/addresses", {**API_HOME, "zip": "abcde", "city": "  "}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == {"zip", "city"}
    assert Address.objects.count() == 0


def test_api_bad_update_changes_nothing(customer_api, customer):
    address = add(customer)

    response = customer_api.patch(f"/api/addresses/{address.pk}", {"zip": "٦٢٧٠١"}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"]["zip"] == ["Enter a ZIP code like 12345 or 12345-6789."]
    address.refresh_from_db()
    assert address.zip == "62701"


def test_api_other_customers_addresses_are_404_and_untouched(customer_api, other_customer):
    theirs = add(other_customer)

    for method in ("get", "put", "patch", "delete"):
        response = getattr(customer_api, method)(f"/api/addresses/{theirs.pk}", API_HOME, format="json")
        assert response.status_code == 404, method
        assert response.json()["code"] == "not_found"
    assert customer_api.get("/api/addresses").json() == []
    theirs.refresh_from_db()
    assert theirs.label == "Home"


def test_api_needs_a_token(api_client):
    assert api_client.get("/api/addresses").status_code == 401
    assert api_client.post("/api/addresses", API_HOME, format="json").status_code == 401
    assert Address.objects.count() == 0


def test_api_full_book_is_400_address_book_full(customer_api, customer):
    for number in range(services.ADDRESS_BOOK_LIMIT):
        add(customer, {**HOME, "label": f"Place {number}"})

    response = customer_api.post("/api/addresses", API_HOME, format="json")

    assert response.status_code == 400 and response.json()["code"] == "address_book_full"


def test_the_schema_documents_the_address_book(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    assert {"get", "post"} <= set(schema["paths"]["/api/addresses"])
    assert {"get", "put", "patch", "delete"} <= set(schema["paths"]["/api/addresses/{address_id}"])
    created = schema["paths"]["/api/addresses"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    ref = created["$ref"].rsplit("/", 1)[-1]
    assert {"id", "label", "address", "city", "state", "zip", "isDefault"} <= set(
        schema["components"]["schemas"][ref]["properties"])
