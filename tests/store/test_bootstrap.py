"""`manage.py store_bootstrap`: creates what is missing, never overwrites a running shop
(review rules only with --update)."""
import json
import shutil
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command, get_commands

from catalog.models import Category, Product
from providers.models import ShippingDestination, ShippingRate, ShippingZone
from workflows.models import ReviewRule

DEMO_EMAIL = "admin@example.com"


FIXTURES = Path(django_settings.BASE_DIR) / "fixtures"
RULE_NAME = "Orders of $1,000 or more need approval"
FIXTURE_RULES = [e["fields"]["name"] for e in json.loads((FIXTURES / "review_rules.json").read_text())
                 if e["model"] == "workflows.reviewrule"]


def bootstrap(*args: str) -> str:
    out = StringIO()
    call_command("store_bootstrap", *args, stdout=out)
    return out.getvalue()


def fixtures_with_rules(directory: Path, rules: list[dict]) -> Path:
    """A fixtures dir: the seed products and rate card, and these review rules."""
    shutil.copy(FIXTURES / "products.json", directory / "products.json")
    shutil.copy(FIXTURES / "shipping.json", directory / "shipping.json")
    entries = [{"model": "workflows.reviewrule", "pk": pk, **rule} for pk, rule in enumerate(rules, start=1)]
    (directory / "review_rules.json").write_text(json.dumps(entries))
    return directory


def total(op: str, value: str, fact: str = "total") -> dict:
    """A condition of one comparison, as rules keep it."""
    return {"all": [{"fact": fact, "op": op, "value": value}]}


def rule(key: str, name: str, value: str, *, previous_names=(), operator: str = "gte", enabled: bool = True) -> dict:
    return {"key": key, "previous_names": list(previous_names),
            "fields": {"name": name, "reason": name, "condition": total(operator, value), "enabled": enabled}}


def total_rule() -> ReviewRule:
    """The one rule on the order total."""
    return ReviewRule.objects.get(condition__all__0__fact="total")


def test_command_is_discoverable_by_manage_py():
    # `make run` calls it by name; Django only finds commands of installed apps. It belongs
    # to workflows, the top app: store imports no app.
    assert get_commands()["store_bootstrap"] == "workflows"


def test_every_fixture_review_rule_has_a_key_of_its_own():
    entries = [e for e in json.loads((FIXTURES / "review_rules.json").read_text()) if e["model"] == "workflows.reviewrule"]
    keys = [entry.get("key") for entry in entries]
    assert entries and all(keys) and len(set(keys)) == len(keys)


@pytest.mark.django_db
def test_seeds_the_catalog_and_review_rules_once(settings):
    settings.DEBUG = False

    first = bootstrap()
    second = bootstrap()

    assert Product.objects.count() == 8
    assert Category.objects.count() == 4
    assert sorted(ReviewRule.objects.values_list("name", flat=True)) == sorted(FIXTURE_RULES)
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
    ReviewRule.objects.filter(name=RULE_NAME).update(condition=total("gte", "5000.00"))

    bootstrap()

    keyboard = Product.objects.get(public_id="prod-001")
    assert (keyboard.stock, keyboard.price, keyboard.name) == (3, Decimal("1.00"), "Renamed keyboard")
    assert Product.objects.get(public_id="prod-002").stock == 120
    assert Product.objects.count() == 8
    assert total_rule().condition == total("gte", "5000.00")


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


@pytest.mark.django_db
def test_without_update_existing_rules_keep_every_edit(settings):
    settings.DEBUG = False
    bootstrap()
    ReviewRule.objects.filter(name=RULE_NAME).update(condition=total("gt", "5000.00"), enabled=False)

    output = bootstrap()

    live = total_rule()
    assert (live.name, live.condition, live.enabled) == (RULE_NAME, total("gt", "5000.00"), False)
    assert "Review rules: 0 created." in output


@pytest.mark.django_db
def test_update_brings_existing_rules_back_to_the_fixture(settings):
    settings.DEBUG = False
    bootstrap()
    ReviewRule.objects.update(condition=total("lt", 5000, fact="item_count"), enabled=False, priority=1)

    output = bootstrap("--update")
    again = bootstrap("--update")

    live = total_rule()
    assert (live.name, live.condition, live.enabled, live.priority) == (
        RULE_NAME, total("gte", "1000.00"), True, 10)
    assert f"Review rules: 0 created, {len(FIXTURE_RULES)} updated." in output
    assert "Review rules: 0 created, 0 updated." in again


@pytest.mark.django_db
def test_update_creates_missing_rules_and_leaves_other_rules_alone(settings):
    settings.DEBUG = False
    staff_rule = ReviewRule.objects.create(name="Staff's own rule", reason="Bulk",
                                           condition=total("gte", 50, fact="item_count"))

    output = bootstrap("--update")

    assert sorted(ReviewRule.objects.values_list("name", flat=True)) == sorted([*FIXTURE_RULES, "Staff's own rule"])
    staff_rule.refresh_from_db()
    assert (staff_rule.condition, staff_rule.enabled) == (total("gte", 50, fact="item_count"), True)
    assert f"Review rules: {len(FIXTURE_RULES)} created, 0 updated." in output


@pytest.mark.django_db
def test_update_never_changes_products(settings):
    settings.DEBUG = False
    bootstrap()
    Product.objects.filter(public_id="prod-001").update(stock=3, price=Decimal("1.00"), name="Renamed keyboard")

    bootstrap("--update")

    keyboard = Product.objects.get(public_id="prod-001")
    assert (keyboard.stock, keyboard.price, keyboard.name) == (3, Decimal("1.00"), "Renamed keyboard")
    assert Product.objects.count() == 8


@pytest.mark.django_db
def test_a_rule_renamed_in_the_fixture_is_found_by_its_previous_name_never_duplicated(settings, tmp_path):
    settings.DEBUG = False
    bootstrap()
    renamed = fixtures_with_rules(tmp_path, [
        rule("large-orders", "Orders of $2,000 or more need approval", "2000.00", previous_names=[RULE_NAME]),
    ])

    bootstrap("--fixtures-dir", str(renamed))

    live = total_rule()  # no second rule next to the old one
    assert (live.name, live.condition) == (RULE_NAME, total("gte", "1000.00"))

    output = bootstrap("--fixtures-dir", str(renamed), "--update")

    live = total_rule()
    assert (live.name, live.condition) == ("Orders of $2,000 or more need approval", total("gte", "2000.00"))
    assert "Review rules: 0 created, 1 updated." in output


@pytest.mark.django_db
def test_the_rule_with_the_current_name_wins_over_one_with_a_previous_name(settings, tmp_path):
    settings.DEBUG = False
    old = ReviewRule.objects.create(name="Old name", reason="Old", condition=total("gte", "1.00"))
    current = ReviewRule.objects.create(name="New name", reason="New", condition=total("gte", "2.00"))
    fixtures = fixtures_with_rules(tmp_path, [rule("big", "New name", "3.00", previous_names=["Old name"])])

    bootstrap("--fixtures-dir", str(fixtures), "--update")

    old.refresh_from_db()
    current.refresh_from_db()
    assert (old.name, old.condition) == ("Old name", total("gte", "1.00"))
    assert (current.name, current.condition) == ("New name", total("gte", "3.00"))
    assert ReviewRule.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("keys", [[None], ["same", "same"]], ids=["missing", "repeated"])
def test_a_fixture_rule_without_a_key_of_its_own_is_refused(settings, tmp_path, keys):
    settings.DEBUG = False
    entries = [rule(key, f"Rule {i}", "10.00") for i, key in enumerate(keys)]
    for entry in entries:
        if entry["key"] is None:
            del entry["key"]
    fixtures = fixtures_with_rules(tmp_path, entries)

    with pytest.raises(CommandError, match="needs a key of its own"):
        bootstrap("--fixtures-dir", str(fixtures))
    assert not ReviewRule.objects.exists()
    assert not Product.objects.exists()  # one transaction: nothing half-done


@pytest.mark.django_db
def test_a_fixture_rule_the_rules_refuse_stops_the_bootstrap(settings, tmp_path):
    settings.DEBUG = False
    fixtures = fixtures_with_rules(tmp_path, [rule("negative", "Nonsense", "-5")])

    with pytest.raises(CommandError, match="'negative' is not valid"):
        bootstrap("--fixtures-dir", str(fixtures))
    assert not ReviewRule.objects.exists()


@pytest.mark.django_db
def test_seeds_the_rate_card_only_into_a_shop_without_zones_and_never_brings_a_deleted_one_back(settings):
    settings.DEBUG = False
    ShippingZone.objects.all().delete()
    card = json.loads((FIXTURES / "shipping.json").read_text())["zones"]

    first = bootstrap()

    assert f"Shipping: the seed rate card created, {len(card)} zone(s)." in first
    assert sorted(ShippingZone.objects.values_list("name", flat=True)) == sorted(zone["name"] for zone in card)
    assert ShippingDestination.objects.get(state="NY").zone.name == "Northeast"
    assert ShippingZone.objects.get(is_fallback=True).name == "Contiguous United States"
    assert ShippingRate.objects.count() == sum(len(zone["rates"]) for zone in card)
    ShippingRate.objects.filter(zone__name="Northeast", service="standard").update(base_cost=Decimal("5.55"))
    ShippingZone.objects.filter(name="New York City").delete()

    second = bootstrap()

    # The zone staff deleted stays deleted: a shop with any zone keeps its rate card.
    assert f"Shipping: the rate card has {len(card) - 1} zone(s), left as staff keep it." in second
    assert ShippingRate.objects.get(zone__name="Northeast", service="standard").base_cost == Decimal("5.55")
    assert not ShippingZone.objects.filter(name="New York City").exists()
    assert ShippingZone.objects.count() == len(card) - 1


@pytest.mark.django_db
def test_seeds_the_products_with_their_packed_weights(settings):
    settings.DEBUG = False

    bootstrap()

    weights = dict(Product.objects.values_list("public_id", "weight_grams"))
    assert weights["prod-001"] == 1200 and weights["prod-008"] == 50  # a keyboard, a boxed license card
    assert all(1 <= grams <= 30_000 for grams in weights.values())
    assert len(set(weights.values())) == len(weights)  # each its own, none left at the default
