"""Shared fixtures: users, JWT API clients, Debian's Chromium for Playwright, a real qcluster."""
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; the test body still talks to
# the database synchronously, which is safe here (one thread).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

BASE_DIR = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "Sturdy-Passw0rd!"


# --- order ------------------------------------------------------------------------------

def _uses_database(item: pytest.Item) -> bool:
    """As pytest-django decides it: a django_db marker, a database fixture, or a Django TestCase."""
    from django.test import TransactionTestCase

    cls = getattr(item, "cls", None)
    if cls is not None and issubclass(cls, TransactionTestCase):
        return True
    fixtures = set(getattr(item, "fixturenames", ()))
    return item.get_closest_marker("django_db") is not None or bool(fixtures & {"db", "transactional_db", "live_server"})


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests without a database first, then pytest-django's order (database tests, then the
    transactional ones that flush it). The tests without a database hold the longest ones (`make
    run`, other subprocesses): started first, they do not end a run on one pytest-xdist worker
    while the other idles. Each worker runs its share in this order too (`--dist load`)."""
    items.sort(key=_uses_database)  # stable: pytest-django's order stays within the database tests


# --- users and API clients ------------------------------------------------------------

@pytest.fixture
def make_user(db, django_user_model):
    def make(email: str | None = None, *, name: str = "Test Customer", password: str = PASSWORD, **extra):
        email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
        return django_user_model.objects.create_user(email=email, password=password, name=name, **extra)

    return make


@pytest.fixture
def customer(make_user):
    return make_user("customer@example.com", name="Casey Customer")


@pytest.fixture
def other_customer(make_user):
    return make_user("other@example.com", name="Oscar Other")


@pytest.fixture
def staff_user(make_user):
    return make_user("staff@example.com", name="Sam Staff", is_staff=True, is_superuser=True)


@pytest.fixture
def shop_staff_group(db):
    """The "Shop staff" group the data migration creates (created again here: transactional tests flush it)."""
    from store.staff import shop_staff_group_sync

    return shop_staff_group_sync()


@pytest.fixture
def shop_staff(make_user, shop_staff_group):
    user = make_user("clerk@example.com", name="Cleo Clerk", is_staff=True)
    user.groups.add(shop_staff_group)
    return user


def _jwt_client(user):
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    client.user = user
    return client


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def customer_api(customer):
    return _jwt_client(customer)


@pytest.fixture
def other_api(other_customer):
    return _jwt_client(other_customer)


@pytest.fixture
def staff_api(staff_user):
    return _jwt_client(staff_user)


@pytest.fixture
def jwt_client():
    return _jwt_client


# --- rate limits ------------------------------------------------------------------------

# The documented defaults (docs/operations.md, "Rate limits"); the test settings keep them out of reach.
PRODUCTION_RATE_LIMITS = {
    "API": "300/min",
    "API_BURST": "50/10s",
    "LOGIN": "10/min",
    "REGISTER": "10/min",
    "LOGIN_FAILURES": "5/15min",
    "PASSWORD_RESET": "5/hour",
}


@pytest.fixture(autouse=True)
def closed_circuits():
    """Every test starts with Redis' circuit breaker closed (a test may leave it open)."""
    from store import circuit

    circuit._breakers.clear()
    yield
    circuit._breakers.clear()


@pytest.fixture(autouse=True)
def workflow_versions_forgotten():
    """Each test starts without the workflow versions this process read: a test's versions roll
    back with it, and the next test may publish others under the same numbers (production never
    gives a number twice)."""
    from workflows.policy.selectors import policy_cache_clear

    policy_cache_clear()
    yield
    policy_cache_clear()


class Clock:
    """The wall clock the code under test reads, moved on by advance() where a test would sleep:
    time.time (and django-otp's own reference to it) and django.utils.timezone.now, all by the same
    offset. It still runs as the real clock does between advances; monotonic clocks are untouched."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import django_otp.oath
        from django.utils import timezone

        self.offset = 0.0
        real_time, real_now = time.time, timezone.now
        shifted_time = lambda: real_time() + self.offset  # noqa: E731
        monkeypatch.setattr(time, "time", shifted_time)
        monkeypatch.setattr(django_otp.oath, "time", shifted_time)
        monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(seconds=self.offset))

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """A wall clock a test moves on (`clock.advance(3)`) instead of sleeping."""
    return Clock(monkeypatch)


@pytest.fixture
def shop_free_shipping_threshold(settings):
    """The shop's default threshold (standard ships free from $100.00 of items) instead of the
    tests' "0.00", under which every order's standard shipping is free."""
    settings.FREE_SHIPPING_THRESHOLD = "100.00"


@pytest.fixture
def outages_forgotten():
    """The simulated outages this process remembers a while are forgotten before and after the test."""
    from providers import simulation

    simulation.outages_forget()
    yield
    simulation.outages_forget()


def _cache_of_this_test(settings, folder: Path, alias: str) -> None:
    """Cache `alias` under a key prefix (Redis) or in a new folder under `folder`, of this test's own."""
    config = dict(settings.CACHES[alias])
    name = f"{alias}-{uuid.uuid4().hex[:12]}"
    if "RedisCache" in config["BACKEND"]:
        config["KEY_PREFIX"] = f"test-{name}"
    else:
        config["LOCATION"] = str(folder / "caches" / name)
    settings.CACHES = {**settings.CACHES, alias: config}


@pytest.fixture
def fresh_cache(settings, tmp_path):
    """The default cache of this test's own: nothing left over.

    (Not cache.clear(): with Redis that would flush the task queue sharing the database.)
    """
    _cache_of_this_test(settings, tmp_path, "default")


@pytest.fixture(autouse=True)
def fresh_fragments(settings, tmp_path_factory):
    """The fragments cache (store/fragments.py) of this test's own: no test sees the pages and data
    another test or run left there. (In the session's temp folder: a `tmp_path` for every test
    would cost each one a scan of all the others'.)"""
    _cache_of_this_test(settings, tmp_path_factory.getbasetemp(), "fragments")


@pytest.fixture
def rate_limits(settings, fresh_cache):
    """The production limits, counted from zero."""
    settings.RATE_LIMITS = dict(PRODUCTION_RATE_LIMITS)
    return settings.RATE_LIMITS


# --- catalog --------------------------------------------------------------------------

SEED_CATALOG = (BASE_DIR / "fixtures" / "products.json").read_text()


@pytest.fixture
def catalog(db):
    """The 8 seed products of fixtures/products.json, as `loaddata` would load them.

    (Not loaddata itself: it saves row by row, an UPDATE and an INSERT each, and ~1,500 tests ask
    for the catalog. Here one INSERT a model, the file's timestamps kept, the sequences reset as
    loaddata does; loaddata's raw saves send no signal the store listens to.)"""
    from django.core import serializers
    from django.core.management.color import no_style
    from django.db import connection

    from catalog.models import Category, Product
    from catalog.stock import stock_openings_record

    loaded = [deserialized.object for deserialized in serializers.deserialize("json", SEED_CATALOG)]
    categories = [obj for obj in loaded if isinstance(obj, Category)]
    products = [obj for obj in loaded if isinstance(obj, Product)]
    assert len(categories) + len(products) == len(loaded), "fixtures/products.json holds another model"
    Category.objects.bulk_create(categories)
    stamps = {product.pk: (product.created_at, product.updated_at) for product in products}
    Product.objects.bulk_create(products)  # sets created_at/updated_at to now (auto_now): put the file's back
    for (created_at, updated_at) in set(stamps.values()):
        pks = [pk for pk, stamp in stamps.items() if stamp == (created_at, updated_at)]
        Product.objects.filter(pk__in=pks).update(created_at=created_at, updated_at=updated_at)
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), [Category, Product]):
            cursor.execute(statement)
    stock_openings_record()  # the ledger starts from the loaded stock, as the data migration does
    return {p.public_id: p for p in Product.objects.all()}


@pytest.fixture
def media_root(settings, tmp_path):
    """MEDIA_ROOT in a directory of the test's own, so uploads never land in the repository."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


# --- browser (pytest-playwright with Debian's Chromium) -------------------------------

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: browser tests need Debian's chromium package "
            "(`apt-get install chromium`; `make test` installs it)."
        )
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def page(page):
    page.set_default_timeout(15_000)
    return page


# --- a real django-q2 cluster ---------------------------------------------------------

def _database_url_of_test_db() -> str:
    from django.db import connection

    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or "postgres"
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


class ManagedProcess:
    """A store subprocess in its own session, writing to a log file.

    stop() asks the main process to end (it stops its own children) and kills the whole
    group only if it does not; kill() is a `kill -9` of the group, as a crash would be.
    """

    log_path: Path
    process: subprocess.Popen | None = None

    def spawn(self, command: list[str], env: dict[str, str]) -> None:
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop() / kill()
        self.process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        self.log.close()

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


class QCluster(ManagedProcess):
    """A `manage.py qcluster` subprocess sharing the test database (and broker)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        Path(env["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
        self.log_path = Path(env["DATA_DIR"]) / f"qcluster-{env['Q_CLUSTER_NAME']}.log"

    def start(self) -> None:
        self.spawn([sys.executable, str(BASE_DIR / "manage.py"), "qcluster"], self.env)


def _qcluster_env(**extra: str) -> dict[str, str]:
    """A `qcluster` subprocess' environment: the test database, on a queue name of its own."""
    from django.conf import settings as django_settings

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "store.settings_test",
        "DATABASE_URL": _database_url_of_test_db(),
        "DATA_DIR": str(django_settings.DATA_DIR),
        "Q_CLUSTER_NAME": f"test{uuid.uuid4().hex[:8]}",
        "Q_WORKERS": os.environ.get("TEST_Q_WORKERS", "2"),
        **extra,
    }


@pytest.fixture(scope="session")
def qcluster_process(django_db_setup, django_db_blocker):
    """One `qcluster` for the session, on its own queue name, sharing the test database.

    Its outbox relay is off: every test shares that database, and a relay would queue the outbox
    rows of tests that never asked for a cluster (`relaying_qcluster` has one)."""
    with django_db_blocker.unblock():
        env = _qcluster_env(OUTBOX_RELAY_SECONDS="0")
    cluster = QCluster(env)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def relaying_qcluster(transactional_db):
    """A `qcluster` of the test's own whose main process relays the outbox every second, as in
    production; stopped after the test."""
    cluster = QCluster(_qcluster_env(OUTBOX_RELAY_SECONDS="1"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def qcluster(qcluster_process, transactional_db, settings, monkeypatch):
    """A real worker cluster: tasks go through the broker (not sync) to `qcluster_process`.

    Only tests that ask for it enqueue onto the cluster's queue; after the test, it waits for
    the cluster to finish the test's orders, so the database flush never races a task.
    """
    from django_q.conf import Conf

    from orders.models import Order
    from orders.states import WORKING_STATES

    name = qcluster_process.env["Q_CLUSTER_NAME"]
    monkeypatch.setattr(Conf, "PREFIX", name)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    monkeypatch.setattr(Conf, "Q_STAT", f"django_q:{name}:cluster")
    settings.PIPELINE_TASKS_SYNC = False
    if qcluster_process.process is None or qcluster_process.process.poll() is not None:
        qcluster_process.start()  # a test killed it (crash drills): bring it back
    yield qcluster_process
    deadline = time.monotonic() + 10
    while Order.objects.filter(state__in=WORKING_STATES).exists() and time.monotonic() < deadline:
        time.sleep(0.1)


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.1, message: str = "condition"):
    """Poll `predicate` until it returns a truthy value; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture
def chromium_path() -> str:
    return shutil.which(CHROMIUM) or CHROMIUM


# --- orders ---------------------------------------------------------------------------

SHIPPING = {"address": "1 Market Street", "city": "Springfield", "state": "IL", "zip": "62701"}
CARD_APPROVE = "4242 4242 4242 4242"
CARD_DECLINE = "4000 0000 0000 0002"
CARD_TIMEOUT_ONCE = "4000 0000 0000 0119"


@pytest.fixture
def place_order(catalog):
    """Place an order through the real service: place_order(user, {"prod-001": 2}, card=..., zip=...)."""
    from orders.services import LineRequest, ShippingAddress, order_place

    def place(user, items: dict[str, int] | None = None, *, card: str | None = CARD_APPROVE, zip: str = "62701",
              idempotency_key: str = ""):
        items = items or {"prod-002": 1}
        result = order_place(
            user=user,
            lines=[LineRequest(pid, qty) for pid, qty in items.items()],
            shipping=ShippingAddress(**{**SHIPPING, "zip": zip}),
            card_number=card,
            idempotency_key=idempotency_key,
        )
        return result.order

    return place


@pytest.fixture
def order_in_state(place_order, customer):
    """order_in_state("paid") → an order placed through order_place and moved there by its
    declared transitions (tests/order_states.py); `user` and `items` as place_order takes them."""
    from tests.order_states import order_move

    def make(state: str, *, user=None, items: dict[str, int] | None = None):
        return order_move(place_order(user or customer, items or {"prod-001": 2}), state)

    return make


@pytest.fixture
def sync_pipeline(transactional_db, settings):
    """Commit for real, so the pipeline runs on commit, in-process (django-q2's sync mode)."""
    settings.PIPELINE_TASKS_SYNC = True
