"""A store's database migrated on the release's recorded migration graph keeps working with this code.

The storefront and the back office are apps of their own while every model stays in its app
(same labels, tables, content types and permissions): a database whose migrations stopped at
OLD_LEAVES, holding orders with their events and refunds, a queued pipeline run, a failed one
and a stored schedule, migrates to today's leaves cleanly, keeps its rows, content types and
permissions, every queued or scheduled task still names a function the worker can import, and
the admin's and the storefront's pages render its orders.

The database is a fresh SQLite file in a process of its own (this file run as a script), so the
test database of the suite is never migrated backwards.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

# The project apps' latest migrations in the release's graph: a database created by its
# `migrate` stops here. The libraries' apps migrate to their own leaves (pinned versions).
OLD_LEAVES = [
    ("accounts", "0003_address_book"),
    ("catalog", "0004_stock_ledger_opening_balances"),
    ("providers", "0003_provider_circuit"),
    ("orders", "0015_unwanted_not_ours"),
    ("notifications", "0001_initial"),
    ("workflows", "0007_reconcile_schedule"),
]
# The content types the admin's proxy models and the orders' permissions hang on.
ORDER_PERMISSIONS = ["view_order", "approve_order", "change_order", "refund_order", "add_staffnote"]
# Refund rows keep only "view": "orders.refund_order" is the one permission that makes a refund.
REFUND_PERMISSIONS_GONE = ["add_refund", "change_refund", "delete_refund",
                           "add_refundline", "change_refundline", "delete_refundline", "view_refundline"]
PROXY_MODELS = [("orders", "customer"), ("orders", "orderawaitingapproval")]
BASE_DIR = Path(__file__).resolve().parents[2]


def test_a_database_of_the_recorded_graph_migrates_forward_with_its_orders_and_pages(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    env.update(DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="store.settings_test", PYTHONPATH=str(BASE_DIR))
    result = subprocess.run([sys.executable, __file__], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["unapplied_after"] == []
    assert seen["rows_after"] == seen["rows_before"]
    assert seen["order_after"] == seen["order_before"]
    # Orders placed before shipping had a price shipped free: their subtotal is their total.
    assert [float(value) for value in seen["money_after"]] == [30.0, 0.0, 30.0]
    assert seen["content_types_after"] == seen["content_types_before"]
    # (The old database's own post_migrate ran with today's models, which make no refund-line ones.)
    assert {"add_refund", "change_refund", "delete_refund"} <= set(seen["permissions_before"])
    assert seen["permissions_after"] == [name for name in seen["permissions_before"]
                                         if name not in REFUND_PERMISSIONS_GONE]
    assert set(ORDER_PERMISSIONS) <= set(seen["permissions_after"])
    assert seen["task_functions"] and all(seen["task_functions"].values()), seen["task_functions"]
    for page, (status, shows) in seen["pages"].items():
        assert status == 200, page
        assert all(shows.values()), (page, shows)
    # Each rule's one comparison became a condition tree of one comparison; the held order has its hold.
    assert seen["rules_after"] == [
        ["Big orders", 10, True, "hold", "Big orders", {"all": [{"fact": "total", "op": "gte", "value": "1000.00"}]}],
        ["Risky", 20, False, "hold", "Risky", {"all": [{"fact": "risk_score", "op": "gt", "value": 80}]}],
        # A threshold between two of the fact's steps is the step on its side; one never met, disabled.
        ["Odd score", 30, True, "hold", "Odd score", {"all": [{"fact": "risk_score", "op": "gte", "value": 81}]}],
        ["Never", 40, False, "hold", "Never (disabled by the upgrade: it could never match)",
         {"all": [{"fact": "line_count", "op": "lt", "value": 0}]}],
    ]
    assert [row[:3] for row in seen["rules_back"]] == [["Big orders", "total", "gte"], ["Risky", "risk_score", "gt"],
                                                       ["Odd score", "risk_score", "gte"], ["Never", "line_count", "lt"]]
    assert [hold[1:] for hold in seen["holds_after"]] == [["Big orders", "Big orders", None]]


def _build_and_upgrade() -> dict:
    """Run in a process of its own against DATA_DIR's fresh SQLite database (the test above)."""
    import pydoc
    from decimal import Decimal

    import django

    django.setup()
    from django.core.management.sql import emit_post_migrate_signal
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.utils import timezone
    from django_q.signing import SignedPackage

    setup_test_environment()  # the test client's host
    executor = MigrationExecutor(connection)
    graph = executor.loader.graph
    projects = {app for app, _ in OLD_LEAVES}
    old = OLD_LEAVES + [leaf for leaf in graph.leaf_nodes() if leaf[0] not in projects]
    state = executor.migrate(old)
    emit_post_migrate_signal(verbosity=0, interactive=False, db=connection.alias)

    # --- What the release's store holds: rows written through the old graph's models ---------
    apps = state.apps
    User, Category, Product = (apps.get_model(*name) for name in
                               (("accounts", "User"), ("catalog", "Category"), ("catalog", "Product")))
    Order, OrderLine, OrderEvent, Refund = (apps.get_model("orders", name) for name in
                                            ("Order", "OrderLine", "OrderEvent", "Refund"))
    Task, OrmQ, Schedule = (apps.get_model("django_q", name) for name in ("Task", "OrmQ", "Schedule"))
    OldRule = apps.get_model("workflows", "ReviewRule")  # noqa: N806 - a model class
    OldRule.objects.create(name="Big orders", field="total", operator="gte", value=Decimal("1000"))
    OldRule.objects.create(name="Risky", field="risk_score", operator="gt", value=Decimal("80"), enabled=False)
    OldRule.objects.create(name="Odd score", field="risk_score", operator="gte", value=Decimal("80.50"))
    OldRule.objects.create(name="Never", field="line_count", operator="lt", value=Decimal("-1"))
    staff = User.objects.create(email="boss@example.com", name="Bo Boss", password="!", is_staff=True,
                                is_superuser=True)
    customer = User.objects.create(email="casey@example.com", name="Casey Customer", password="!")
    category = Category.objects.create(name="Desk", slug="desk")
    product = Product.objects.create(public_id="prod-upgrade", name="Upgrade Lamp", price=Decimal("10.00"),
                                     stock=5, category=category)
    address = {"ship_address": "1 Main St", "ship_city": "Springfield", "ship_state": "IL", "ship_zip": "62701"}
    delivered = Order.objects.create(owner=customer, state="delivered", total=Decimal("30.00"),
                                     refunded_amount=Decimal("10.00"), transaction_id="txn_upgrade",
                                     payment_provider="card", card_last4="4242", tracking_number="TRK-UPGRADE",
                                     carrier="UPS", **address)
    OrderLine.objects.create(order=delivered, product=product, product_public_id=product.public_id,
                             name=product.name, unit_price=Decimal("10.00"), quantity=3)
    for source, target, transition in (("new", "validated", "validate"), ("validated", "paid", "pay"),
                                       ("paid", "shipped", "ship"), ("shipped", "delivered", "deliver")):
        OrderEvent.objects.create(order=delivered, transition=transition, source_state=source, target_state=target)
    Refund.objects.create(order=delivered, amount=Decimal("10.00"), reason="Lamp arrived scratched",
                          gateway_reference="ref_upgrade", created_by=staff)
    held = Order.objects.create(owner=customer, state="awaiting_approval", total=Decimal("10.00"), **address)
    OrderLine.objects.create(order=held, product=product, product_public_id=product.public_id, name=product.name,
                             unit_price=Decimal("10.00"), quantity=1)
    OrderEvent.objects.create(order=held, transition="hold_for_review", source_state="validated",
                              target_state="awaiting_approval", detail={"rule": "Big orders"})
    now = timezone.now()
    run = "workflows.tasks.pipeline_run"
    OrmQ.objects.create(key="workflow-store", payload=SignedPackage.dumps(
        {"id": "a" * 32, "name": "pipeline-queued", "func": run, "args": (held.pk, "req-queued"), "kwargs": {},
         "started": now}))
    Task.objects.create(id="b" * 32, name="pipeline-failed", func=run, args=(held.pk, "req-failed"), kwargs={},
                        result="ProviderUnavailable", started=now, stopped=now, success=False, attempt_count=1)
    Schedule.objects.create(name=f"pipeline-{held.pk}-later", func=run, args=repr((held.pk, "req-later")),
                            schedule_type="O", next_run=now + timezone.timedelta(hours=1), repeats=-1)

    def order_fields() -> dict:
        row = connection.cursor().execute(
            "SELECT state, total, refunded_amount, transaction_id, tracking_number FROM orders_order WHERE id = %s",
            [delivered.pk]).fetchone()
        return {"row": [str(value) for value in row]}

    def rows() -> dict:
        tables = ["orders_order", "orders_orderline", "orders_orderevent", "orders_refund", "django_q_ormq",
                  "django_q_task", "django_q_schedule", "accounts_user"]
        with connection.cursor() as cursor:
            return {table: cursor.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in tables}

    def content_types() -> dict:
        with connection.cursor() as cursor:
            return {f"{label}.{model}": cursor.execute(
                "SELECT id FROM django_content_type WHERE app_label = %s AND model = %s", [label, model]).fetchone()
                for label, model in [*PROXY_MODELS, ("orders", "order"), ("orders", "refund")]}

    def permissions() -> list[str]:
        with connection.cursor() as cursor:
            return sorted(codename for (codename,) in cursor.execute(
                "SELECT codename FROM auth_permission JOIN django_content_type ON content_type_id = "
                "django_content_type.id WHERE app_label = 'orders'").fetchall())

    before = {"rows_before": rows(), "order_before": order_fields(), "content_types_before": content_types(),
              "permissions_before": permissions()}

    # --- This code's `migrate` ------------------------------------------------------------------
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    executor.migrate(executor.loader.graph.leaf_nodes())
    emit_post_migrate_signal(verbosity=0, interactive=False, db=connection.alias)
    after_executor = MigrationExecutor(connection)

    from django.contrib.auth import get_user_model
    from django_q.models import Failure
    from django_q.models import OrmQ as LiveOrmQ
    from django_q.models import Schedule as LiveSchedule

    functions = {f"schedule {s.name}": s.func for s in LiveSchedule.objects.all()}
    functions |= {f"queued {q.name()}": q.func() for q in LiveOrmQ.objects.all()}
    functions |= {f"failed {f.name}": f.func for f in Failure.objects.all()}

    users = get_user_model().objects
    admin_client, shopper = Client(), Client()
    admin_client.force_login(users.get(email="boss@example.com"))
    shopper.force_login(users.get(email="casey@example.com"))
    number, held_number = f"#{delivered.pk:06d}", f"#{held.pk:06d}"
    pages = {
        "admin order page": (admin_client, f"/admin/orders/order/{delivered.pk}/change/",
                             [number, "Lamp arrived scratched", "TRK-UPGRADE"]),
        "admin order list": (admin_client, "/admin/orders/order/", [number, held_number]),
        "approval queue": (admin_client, "/admin/orders/orderawaitingapproval/", [held_number, "Big orders"]),
        "review rules": (admin_client, "/admin/workflows/reviewrule/", ["Order total ≥ $1,000.00"]),
        "customer page": (admin_client, f"/admin/orders/customer/{customer.pk}/change/", ["casey@example.com"]),
        "refunds": (admin_client, "/admin/orders/refund/", ["Lamp arrived scratched"]),
        "failed tasks": (admin_client, "/admin/django_q/failure/", ["pipeline-failed", held_number]),
        "schedules": (admin_client, "/admin/django_q/schedule/", [f"pipeline-{held.pk}-later"]),
        "admin home": (admin_client, "/admin/", ["Needs attention"]),
        "storefront order page": (shopper, f"/orders/{delivered.pk}/", [number, "Upgrade Lamp"]),
        "storefront order list": (shopper, "/orders/", [number, held_number]),
    }
    shown = {}
    for name, (client, url, texts) in pages.items():
        response = client.get(url)
        html = response.content.decode()
        shown[name] = (response.status_code, {text: text in html for text in texts})
    from workflows.models import Hold, ReviewRule

    rules_after = [[rule.name, rule.priority, rule.enabled, rule.action, rule.reason, rule.condition]
                   for rule in ReviewRule.objects.order_by("priority")]
    holds_after = [[hold.order_id, hold.rule.name if hold.rule else None, hold.reason, hold.resolved_at]
                   for hold in Hold.objects.select_related("rule")]
    # And back: the rules are one comparison of field, operator and value again.
    MigrationExecutor(connection).migrate([("workflows", "0007_reconcile_schedule")])
    with connection.cursor() as cursor:
        rules_back = [list(row) for row in cursor.execute(
            "SELECT name, field, operator, value, enabled FROM workflows_reviewrule ORDER BY id").fetchall()]
    return {
        **before,
        "rules_back": rules_back,
        "rules_after": rules_after,
        "holds_after": holds_after,
        "applied_by_upgrade": [[migration.app_label, migration.name] for migration, _ in plan],
        "unapplied_after": [list(key) for key in after_executor.migration_plan(
            after_executor.loader.graph.leaf_nodes())],
        "rows_after": rows(), "order_after": order_fields(), "content_types_after": content_types(),
        "money_after": [str(value) for value in connection.cursor().execute(
            "SELECT subtotal, shipping_cost, total FROM orders_order WHERE id = %s", [delivered.pk]).fetchone()],
        "permissions_after": permissions(),
        "task_functions": {name: callable(pydoc.locate(func)) for name, func in functions.items()},
        "pages": shown,
    }


if __name__ == "__main__":
    print(json.dumps(_build_and_upgrade(), default=str))
