"""The admin home: branded, with the shop's summary on top; customers are sent away."""
import re
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import Task

from backoffice.selectors.dashboard import admin_dashboard
from catalog.models import Product
from orders.models import Order, OrderState
from orders.services import refund_create


def metric(html: str, name: str) -> str:
    """The text of the summary figure `data-metric=name`, tags stripped and spaces collapsed."""
    match = re.search(rf'data-metric="{name}">(.*?)</p>', html, re.S)
    assert match, name
    return " ".join(re.sub(r"<[^>]+>", "", match.group(1)).split())


def failed_task() -> Task:
    now = timezone.now()
    return Task.objects.create(id=uuid.uuid4().hex, name="pipeline-order-1", func="workflows.tasks.pipeline_run",
                               started=now, stopped=now, success=False, result="boom")


@pytest.fixture
def shop_day(order_in, make_older):
    """Today: paid 299.98, delivered 299.98 with 50 refunded, held, cancelled; 3 days ago: paid 299.98;
    10 days ago: delivered. Low stock: prod-003 (4) and prod-004 (10); prod-005 (3) is inactive."""
    order_in("paid")
    refund_create(order=order_in("delivered"), amount=Decimal("50.00"), reason="Scratched", actor=None)
    order_in("awaiting_approval")
    order_in("cancelled")
    make_older(order_in("paid"), days=3)
    make_older(order_in("delivered"), days=10)
    Product.objects.filter(public_id="prod-003").update(stock=4)
    Product.objects.filter(public_id="prod-004").update(stock=10)
    Product.objects.filter(public_id="prod-005").update(stock=3, is_active=False)
    failed_task()


def test_the_login_page_is_branded(client):
    html = client.get("/admin/login/").content.decode()

    assert "<title>Log in | Workflow Store admin</title>" in html
    assert "Workflow Store admin</a>" in html


def test_the_home_page_shows_the_shop_summary(clerk_client, shop_day):
    response = clerk_client.get("/admin/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<title>Run the shop | Workflow Store admin</title>" in html
    assert metric(html, "orders-today") == "4 orders"
    assert metric(html, "revenue-today") == "$549.96 revenue"  # 299.98 + (299.98 - 50); held and cancelled bring none
    assert metric(html, "orders-7-days") == "5 orders"
    assert metric(html, "revenue-7-days") == "$849.94 revenue"
    assert metric(html, "awaiting-approval") == "1 order"
    assert f'<a href="{reverse("admin:orders_orderawaitingapproval_changelist")}">1 order</a>' in html
    assert metric(html, "failed-tasks") == "1 failed task"
    assert reverse("admin:django_q_failure_changelist") not in html  # Shop staff may not see the task queue
    assert metric(html, "low-stock") == "2 products"
    assert f'href="{reverse("admin:catalog_product_changelist")}?stock_level=low&amp;is_active__exact=1"' in html
    assert "USB-C Hub (4), Laptop Stand (10)" in html
    assert f'<a href="{reverse("admin:orders_order_changelist")}?state__exact=paid">Paid</a>' in html
    assert re.search(r'data-state="paid">\s*2\s*<', html)
    assert re.search(r'data-state="delivered">\s*2\s*<', html)
    assert re.search(r'data-state="refunded">\s*0\s*<', html)


def test_a_superuser_follows_failed_tasks_to_the_task_queue(client, staff_user, db):
    failed_task()
    client.force_login(staff_user)

    html = client.get("/admin/").content.decode()

    assert f'<a href="{reverse("admin:django_q_failure_changelist")}">1 failed task</a>' in html
    assert client.get(reverse("admin:django_q_failure_changelist")).status_code == 200


def test_the_summary_takes_six_queries_whatever_the_data(shop_day, order_in, django_assert_num_queries):
    with django_assert_num_queries(6):
        few = admin_dashboard()
    for _ in range(8):
        order_in("paid")
    failed_task()
    with django_assert_num_queries(6):
        more = admin_dashboard()

    assert (few.today.orders, more.today.orders) == (4, 12)
    assert (few.failed_tasks, more.failed_tasks) == (1, 2)
    assert [name for name, _ in few.orders_by_state] == list(OrderState)  # every state, in the lifecycle's order


def test_the_home_page_runs_the_same_queries_for_2_and_10_orders(clerk_client, order_in, queries_of):
    for _ in range(2):
        order_in("paid")
    with_2 = queries_of(clerk_client, "/admin/")
    for _ in range(8):
        order_in("awaiting_approval")

    assert queries_of(clerk_client, "/admin/") == with_2


@pytest.mark.parametrize("path", ["/admin/", "/admin/orders/order/", "/admin/orders/orderawaitingapproval/"])
def test_a_customer_is_sent_to_the_admin_login(client, customer, path):
    client.force_login(customer)

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={path}"


def test_a_customer_cannot_fire_staff_actions(client, customer, order_in):
    order = order_in("awaiting_approval")
    client.force_login(customer)

    response = client.post(reverse("admin:orders_order_action", args=[order.pk, "approve"]))

    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert Order.objects.get(pk=order.pk).state == "awaiting_approval"


def test_shop_staff_see_the_store_models_they_work_with(clerk_client):
    app_list = clerk_client.get("/admin/").context["app_list"]

    models = {(app["app_label"], model["object_name"]) for app in app_list for model in app["models"]}
    assert models == {
        ("catalog", "Category"), ("catalog", "Product"),
        ("orders", "Order"), ("orders", "OrderAwaitingApproval"), ("orders", "Refund"), ("orders", "Customer"),
        ("workflows", "ReviewRule"), ("workflows", "WorkflowVersion"), ("notifications", "Notification"), ("providers", "GatewayCall"),
        ("providers", "ShippingZone"),
        ("auditlog", "LogEntry"),
    }
