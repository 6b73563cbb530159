"""`manage.py store_bootstrap`: seed what a fresh shop needs, safely on every start.

- the seed catalog (fixtures/products.json): categories missing by slug and products
  missing by public id are created; existing rows are never touched, so a running shop
  keeps its stock, prices and edits;
- the review rules (fixtures/review_rules.json) missing by name;
- with DEBUG on and no staff user yet, a demo staff superuser whose credentials are printed.
  Its documented password is only for a demo that listens on this machine alone: when
  DEMO_HOST (the address `make run` listens on) reaches the network, the account gets a
  random password instead, kept in DATA_DIR/demo_admin_password (owner-only) and printed.

`make run` runs it after `migrate`. Retire a seed product by deactivating it in admin:
a deleted one comes back on the next start.
"""
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.management.base import BaseCommand
from django.db import transaction

from catalog.models import Category, Product
from workflows.models import ReviewRule

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
        created_products += 1
    return created_categories, created_products


def seed_review_rules(path: Path) -> int:
    rules = [obj for obj in _fixture_objects(path) if isinstance(obj, ReviewRule)]
    existing = set(ReviewRule.objects.filter(name__in=[r.name for r in rules]).values_list("name", flat=True))
    created = 0
    for rule in rules:
        if rule.name in existing:
            continue
        rule.pk = None
        rule.save(force_insert=True)
        created += 1
    return created


class Command(BaseCommand):
    help = "Seed the catalog and review rules that are missing; with DEBUG, create a demo staff account."

    def add_arguments(self, parser):
        parser.add_argument(
            "--fixtures-dir",
            type=Path,
            default=FIXTURES_DIR,
            help="Directory holding products.json and review_rules.json.",
        )

    def handle(self, *args, fixtures_dir: Path, **options):
        with transaction.atomic():
            categories, products = seed_catalog(fixtures_dir / "products.json")
            rules = seed_review_rules(fixtures_dir / "review_rules.json")
        self.stdout.write(
            f"Catalog: {products} product(s) and {categories} categor{'y' if categories == 1 else 'ies'} created "
            f"({Product.objects.count()} products in the shop). Review rules: {rules} created."
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
