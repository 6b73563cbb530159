"""`manage.py store_bootstrap`: creates what is missing, safely on every start.

- the seed catalog (fixtures/products.json): categories missing by slug and products
  missing by public id are created; existing rows are never touched, so a running shop
  keeps its stock, prices and edits;
- workflow version 1 from fixtures/workflow.yaml, when the store has no published version (a
  migrated database has it already: a data migration stores the same file);
- the shipping rate card (fixtures/shipping.json), with its zones' destinations and rates
  (providers.rates.rate_card_seed), only when the shop has no shipping zone at all (as the
  post_migrate hook, providers.apps): a running shop's rate card is staff's, so a zone they
  deleted stays deleted and existing zones are never touched;
- the review rules (fixtures/review_rules.json) that are missing. Each fixture entry has a
  stable `key` and may list `previous_names`: a rule is found by its name, else by one of
  its previous names, so a rule renamed in the fixture never gets a duplicate next to the
  old one. Existing rules are left as they are, unless `--update` is given: then the found
  rule takes the fixture's name, priority, condition, action and the rest;
- with DEBUG on and no staff user yet, a demo staff superuser whose credentials are printed.
  Its documented password is only for a demo that listens on this machine alone: when
  DEMO_HOST (the address `make run` listens on) reaches the network, the account gets a
  random password instead, kept in DATA_DIR/demo_admin_password (owner-only) and printed.

`make run` runs it after `migrate`. Retire a seed product by deactivating it in admin:
a deleted one comes back on the next start. It lives in `workflows`, the top app, as it
seeds the data of the apps below it.
"""
import json
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from catalog.models import Category, Product
from catalog.stock import stock_opened
from providers.models import ShippingZone
from providers.rates import rate_card_seed
from workflows.models import ReviewRule
from workflows.policy.services import version_first_ensure
from workflows.review.conditions import ConditionInvalid, condition_clean

FIXTURES_DIR = Path(settings.BASE_DIR) / "fixtures"
DEMO_ADMIN_EMAIL = "admin@example.com"
DEMO_ADMIN_NAME = "Demo Admin"
DEMO_ADMIN_DEFAULT_PASSWORD = "demo-admin-pass"


LOOPBACK_HOSTS = {"", "127.0.0.1", "localhost", "::1", "[::1]"}


def demo_admin_password() -> str:
    """DEMO_ADMIN_PASSWORD, else the documented one on loopback, else this machine's random one."""
    if os.environ.get("DEMO_ADMIN_PASSWORD"):
        return os.environ["DEMO_ADMIN_PASSWORD"]
    if os.environ.get("DEMO_HOST", "").strip().lower() in LOOPBACK_HOSTS:
        return DEMO_ADMIN_DEFAULT_PASSWORD
    path = Path(settings.DATA_DIR) / "demo_admin_password"
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(12))
    return path.read_text().strip()


def _fixture_objects(path: Path) -> list:
    with path.open(encoding="utf-8") as stream:
        return [deserialized.object for deserialized in serializers.deserialize("json", stream)]


def seed_catalog(path: Path) -> tuple[int, int]:
    """Creates the fixture's missing categories and products; returns how many of each."""
    objects = _fixture_objects(path)
    categories = [obj for obj in objects if isinstance(obj, Category)]
    products = [obj for obj in objects if isinstance(obj, Product)]

    # Fixture primary keys mean nothing in a live database: match categories by slug (or,
    # when staff changed a slug, by the unique name) and point products at the live row.
    category_id_by_fixture_pk = {}
    created_categories = 0
    for category in categories:
        fixture_pk = category.pk
        live = (
            Category.objects.filter(slug=category.slug).first()
            or Category.objects.filter(name=category.name).first()
        )
        if live is None:
            category.pk = None
            category.save(force_insert=True)
            live = category
            created_categories += 1
        category_id_by_fixture_pk[fixture_pk] = live.pk

    public_ids = [product.public_id for product in products]
    existing = set(Product.objects.filter(public_id__in=public_ids).values_list("public_id", flat=True))
    created_products = 0
    for product in products:
        if product.public_id in existing:
            continue
        product.pk = None
        product.category_id = category_id_by_fixture_pk[product.category_id]
        product.save(force_insert=True)
        stock_opened(product=product)
        created_products += 1
    return created_categories, created_products


RULE_FIELDS = ("name", "priority", "enabled", "action", "condition", "reason", "customer_message", "hold_hours",
               "expiry_action")


def _fixture_rules(path: Path) -> list[tuple[str, list[str], ReviewRule]]:
    """(key, previous names, unsaved rule) of every review rule in the fixture."""
    text = path.read_text(encoding="utf-8")
    entries = json.loads(text)
    objects = [deserialized.object for deserialized in serializers.deserialize("json", text)]
    rules, keys = [], set()
    for entry, obj in zip(entries, objects, strict=True):
        if not isinstance(obj, ReviewRule):
            continue
        key = entry.get("key")
        if not key or key in keys:
            raise CommandError(f"{path}: every review rule needs a key of its own ({obj.name!r} has {key!r})")
        keys.add(key)
        try:
            obj.condition = condition_clean(obj.condition)
            obj.clean()
        except ConditionInvalid as exc:
            raise CommandError(f"{path}: review rule {key!r} is not valid: {exc}") from exc
        except ValidationError as exc:
            raise CommandError(f"{path}: review rule {key!r} is not valid: {exc.message_dict}") from exc
        rules.append((key, list(entry.get("previous_names", [])), obj))
    return rules


def seed_review_rules(path: Path, *, update: bool = False) -> tuple[int, int]:
    """Creates the fixture's missing review rules; with `update`, brings the existing ones in
    line with it. Returns (created, updated)."""
    created = updated = 0
    for _key, previous_names, rule in _fixture_rules(path):
        live = ReviewRule.objects.filter(name=rule.name).order_by("pk").first()
        if live is None and previous_names:
            live = ReviewRule.objects.filter(name__in=previous_names).order_by("pk").first()
        if live is None:
            rule.pk = None
            rule.save(force_insert=True)
            created += 1
            continue
        if not update:
            continue
        changed = [name for name in RULE_FIELDS if getattr(live, name) != getattr(rule, name)]
        if changed:
            for name in changed:
                setattr(live, name, getattr(rule, name))
            live.save(update_fields=[*changed, "updated_at"])
            updated += 1
    return created, updated


class Command(BaseCommand):
    help = (
        "Create what is missing: the seed catalog's categories and products, the shipping zones and the review rules "
        "(fixtures/), and with DEBUG a demo staff account. Existing rows are never changed, unless "
        "--update: then review rules take the fixture's values."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--fixtures-dir",
            type=Path,
            default=FIXTURES_DIR,
            help="Directory holding products.json, shipping.json, review_rules.json and workflow.yaml.",
        )
        parser.add_argument(
            "--update",
            action="store_true",
            help="Also update existing review rules (found by name or a previous name in the fixture) to the "
            "fixture's name, priority, condition, action and the rest. Products are never updated: their stock and "
            "prices belong to the running shop.",
        )

    def handle(self, *args, fixtures_dir: Path, update: bool, **options):
        with transaction.atomic():
            categories, products = seed_catalog(fixtures_dir / "products.json")
            zones = None if ShippingZone.objects.exists() else rate_card_seed(path=fixtures_dir / "shipping.json")
            rules, rules_updated = seed_review_rules(fixtures_dir / "review_rules.json", update=update)
            try:
                first = version_first_ensure(path=fixtures_dir / "workflow.yaml")
            except ValidationError as exc:
                raise CommandError(f"{fixtures_dir / 'workflow.yaml'}: {exc.message_dict}") from exc
        self.stdout.write(
            f"Catalog: {products} product(s) and {categories} categor{'y' if categories == 1 else 'ies'} created "
            f"({Product.objects.count()} products in the shop). "
            + (f"Shipping: the rate card has {ShippingZone.objects.count()} zone(s), left as staff keep it."
               if zones is None else f"Shipping: the seed rate card created, {zones} zone(s).")
            + f" Review rules: {rules} created"
            + (f", {rules_updated} updated." if update else ".")
            + (" Workflow version 1 created from workflow.yaml." if first else "")
        )
        if settings.DEBUG:
            self._demo_staff()

    def _demo_staff(self) -> None:
        """Only for a local demo (DEBUG): a known staff login, printed so the admin is one click away."""
        User = get_user_model()
        password = demo_admin_password()
        if not User.objects.filter(is_staff=True).exists():
            if User.objects.filter(email__iexact=DEMO_ADMIN_EMAIL).exists():
                self.stdout.write(
                    self.style.WARNING(f"{DEMO_ADMIN_EMAIL} exists but is not staff; no demo staff account created.")
                )
                return
            User.objects.create_superuser(email=DEMO_ADMIN_EMAIL, password=password, name=DEMO_ADMIN_NAME)
            self.stdout.write(self.style.SUCCESS("Demo staff account created."))
        demo = User.objects.filter(email__iexact=DEMO_ADMIN_EMAIL, is_staff=True).first()
        if demo is not None and password != DEMO_ADMIN_DEFAULT_PASSWORD and demo.check_password(
            DEMO_ADMIN_DEFAULT_PASSWORD
        ):
            # The demo now reaches the network: the documented password must not open its admin.
            demo.set_password(password)
            demo.save(update_fields=["password"])
            self.stdout.write(self.style.WARNING("The demo staff account's documented password was replaced."))
        if demo is not None and demo.check_password(password):
            login = f"{DEMO_ADMIN_EMAIL} / {password}"
            self.stdout.write(self.style.SUCCESS(f"Demo staff login (admin at /admin/): {login}"))
