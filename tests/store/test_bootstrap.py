"""`manage.py store_bootstrap`: seeds what is missing, never overwrites a running shop."""
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command, get_commands

from catalog.models import Category, Product
from workflows.models import ReviewRule

DEMO_EMAIL = "admin@example.com"


def bootstrap() -> str:
    out = StringIO()
    call_command("store_bootstrap", stdout=out)
    return out.getvalue()


def test_command_is_discoverable_by_manage_py():
    # `make run` calls it by name; Django only finds commands of installed apps.
    assert "store_bootstrap" in get_commands()


@pytest.mark.django_db
def test_seeds_the_catalog_and_review_rules_once(settings):
    settings.DEBUG = False

    first = bootstrap()
    second = bootstrap()

    assert Product.objects.count() == 8
    assert Category.objects.count() == 4
    assert ReviewRule.objects.count() == 1
    assert sorted(Product.objects.values_list("public_id", flat=True)) == [f"prod-00{i}" for i in range(1, 9)]
    assert "8 product(s)" in first
    assert "0 product(s) and 0 categories created" in second
    assert "Review rules: 0 created" in second


@pytest.mark.django_db
def test_never_resets_stock_or_prices_and_recreates_only_what_is_missing(settings):
    settings.DEBUG = False
    bootstrap()
    Product.objects.filter(public_id="prod-001").update(stock=3, price=Decimal("1.00"), name="Renamed keyboard")
    Product.objects.filter(public_id="prod-002").delete()
    ReviewRule.objects.update(value=Decimal("5000.00"))

    bootstrap()

    keyboard = Product.objects.get(public_id="prod-001")
    assert (keyboard.stock, keyboard.price, keyboard.name) == (3, Decimal("1.00"), "Renamed keyboard")
    assert Product.objects.get(public_id="prod-002").stock == 120
    assert Product.objects.count() == 8
    assert ReviewRule.objects.get().value == Decimal("5000.00")


@pytest.mark.django_db
def test_matches_categories_by_slug_not_by_fixture_primary_key(settings):
    settings.DEBUG = False
    # Live rows whose primary keys differ from the fixture's.
    Category.objects.create(name="Garden", slug="garden")
    electronics = Category.objects.create(name="Electronics", slug="electronics")

    bootstrap()

    assert Category.objects.filter(slug="electronics").count() == 1
    assert Product.objects.get(public_id="prod-001").category == electronics
    assert Product.objects.get(public_id="prod-005").category.slug == "accessories"
    assert not Category.objects.get(slug="garden").products.exists()


@pytest.mark.django_db
def test_adds_nothing_over_a_catalog_loaded_with_loaddata(catalog, settings):
    settings.DEBUG = False
    bootstrap()
    assert Product.objects.count() == 8
    assert Category.objects.count() == 4


@pytest.mark.django_db
def test_creates_and_prints_a_demo_staff_account_with_debug(settings, django_user_model, monkeypatch):
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    settings.DEBUG = True

    first = bootstrap()
    second = bootstrap()

    admin = django_user_model.objects.get(email=DEMO_EMAIL)
    assert admin.is_staff and admin.is_superuser and admin.name
    assert admin.check_password("demo-admin-pass")
    assert django_user_model.objects.count() == 1
    assert f"{DEMO_EMAIL} / demo-admin-pass" in first
    assert f"{DEMO_EMAIL} / demo-admin-pass" in second  # shown on every start of the demo


@pytest.mark.django_db
def test_demo_password_comes_from_the_environment(settings, django_user_model, monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "Another-Demo-Pass-1")
    settings.DEBUG = True

    output = bootstrap()

    assert django_user_model.objects.get(email=DEMO_EMAIL).check_password("Another-Demo-Pass-1")
    assert "Another-Demo-Pass-1" in output


@pytest.mark.django_db
def test_no_demo_staff_account_without_debug(settings, django_user_model):
    settings.DEBUG = False

    output = bootstrap()

    assert not django_user_model.objects.exists()
    assert DEMO_EMAIL not in output


@pytest.mark.django_db
def test_no_demo_staff_account_when_the_shop_has_staff(settings, django_user_model, staff_user):
    settings.DEBUG = True

    output = bootstrap()

    assert not django_user_model.objects.filter(email=DEMO_EMAIL).exists()
    assert DEMO_EMAIL not in output


@pytest.mark.django_db
def test_a_customer_with_the_demo_email_is_not_promoted(settings, django_user_model, make_user):
    settings.DEBUG = True
    customer = make_user(DEMO_EMAIL)

    bootstrap()

    customer.refresh_from_db()
    assert not customer.is_staff
    assert django_user_model.objects.count() == 1


@pytest.mark.django_db
def test_a_demo_that_listens_on_the_network_gets_a_random_staff_password(settings, django_user_model,
                                                                          monkeypatch, tmp_path):
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    settings.DEBUG, settings.DATA_DIR = True, tmp_path
    monkeypatch.setenv("DEMO_HOST", "127.0.0.1")
    bootstrap()  # the demo on this machine: the documented password
    monkeypatch.setenv("DEMO_HOST", "0.0.0.0")

    output, again = bootstrap(), bootstrap()

    admin = django_user_model.objects.get(email=DEMO_EMAIL)
    password = (tmp_path / "demo_admin_password").read_text().strip()
    assert not admin.check_password("demo-admin-pass")
    assert admin.check_password(password) and len(password) >= 16
    assert oct((tmp_path / "demo_admin_password").stat().st_mode)[-3:] == "600"
    assert "documented password was replaced" in output
    assert f"{DEMO_EMAIL} / {password}" in output and f"{DEMO_EMAIL} / {password}" in again
