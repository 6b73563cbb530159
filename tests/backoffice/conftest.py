"""Admin fixtures: "Shop staff" members (with and without the refund permission), orders
driven into any state through the real transitions, and rows of every admin-listed model."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from catalog.models import Category, Product
from orders.models import Order
from orders.services import refund_create
from providers.models import GatewayCall
from tests.review_rules import rule_create
from tests.workflow_versions import version_publish_with
from workflows.models import OutboxTask
from workflows.policy.services import version_draft_create


@pytest.fixture
def refunder(make_user, shop_staff_group):
    """A Shop staff member who was also granted "Can refund orders"."""
    user = make_user("refunds@example.com", name="Rita Refunds", is_staff=True)
    user.groups.add(shop_staff_group)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="refund_order"))
    return user


@pytest.fixture
def clerk_client(client, shop_staff):
    client.force_login(shop_staff)
    return client


@pytest.fixture
def refunder_client(client, refunder):
    client.force_login(refunder)
    return client


@pytest.fixture
def order_in(order_in_state):
    """order_in("paid") → an order placed through order_place and moved there by its transitions."""
    return order_in_state


@pytest.fixture
def store_rows(order_in, customer, catalog, make_user):
    """store_rows(n): n more rows of every model the store's admin lists (orders with their
    lines, timeline, a refund and notifications; held orders; gateway calls; a deferred task;
    rules; products; customers)."""

    def add(n: int) -> None:
        start = Order.objects.count()
        for i in range(n):
            order = order_in("paid", items={"prod-008": 1})
            refund_create(order=order, amount=Decimal("5.00"), reason="Scratched box", actor=None)
            order_in("awaiting_approval", items={"prod-008": 2}, user=make_user(f"shopper-{start + i}@example.com"))
            OutboxTask.objects.create(func="workflows.tasks.pipeline_run", args=[order.pk, None],
                                      task_name=f"pipeline-order-{order.pk}", error="ConnectionError: refused")
            rule_create(f"Rule {start + i}", "total", "gte", str(500 + i))
            publisher = make_user(f"publisher-{start + i}@example.com", is_staff=True, is_superuser=True)
            version_publish_with({"holds.hours": 1 + (start + i) % 700}, actor=publisher)
            version_draft_create(actor=None, note=f"Draft {start + i}")
            category = Category.objects.create(name=f"Category {start + i}", slug=f"category-{start + i}",
                                               image="default")
            Product.objects.create(public_id=f"prod-{900 + start + i}", name=f"Thing {start + i}",
                                   price=Decimal("5.00"), stock=i, category=category, image="default")
        # The simulated payment gateway wrote these: one refund call per refund above.
        assert GatewayCall.objects.count() >= n

    return add


@pytest.fixture
def queries_of():
    """queries_of(client, url): how many queries a GET of `url` runs, after a warm-up GET that
    fills Django's caches (content types, permissions)."""

    def count(client, url: str) -> int:
        client.get(url)
        with CaptureQueriesContext(connection) as context:
            response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return len(context.captured_queries)

    return count


@pytest.fixture
def make_older():
    """make_older(order, days=3): move the order's creation back in time."""

    def move(order: Order, *, days: float) -> Order:
        Order.objects.filter(pk=order.pk).update(created_at=F("created_at") - timedelta(days=days))
        return Order.objects.get(pk=order.pk)

    return move
