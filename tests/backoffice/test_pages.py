"""Every admin list and page of the store's models loads for "Shop staff", in constant queries."""
import pytest
from django.contrib import admin
from django.urls import reverse

from catalog.models import Category, Product
from notifications.models import Notification
from orders.models import Customer, Order, OrderAwaitingApproval, Refund
from providers.models import GatewayCall
from workflows.models import ReviewRule, WorkflowVersion

# The models a "Shop staff" member works with, and the admin list of each.
SHOP_STAFF_MODELS = [Product, Category, Order, OrderAwaitingApproval, Refund, ReviewRule, Notification, GatewayCall,
                     Customer, WorkflowVersion]


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change_page(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def test_every_store_model_is_in_the_admin():
    registered = {model for model in admin.site._registry
                  if model._meta.app_label in {"catalog", "orders", "providers", "notifications", "workflows"}}

    assert set(SHOP_STAFF_MODELS) <= registered


@pytest.mark.parametrize("model", SHOP_STAFF_MODELS, ids=lambda model: model._meta.model_name)
def test_shop_staff_can_open_every_list_and_page(clerk_client, store_rows, model):
    store_rows(2)

    listing = clerk_client.get(changelist(model))
    obj = listing.context["cl"].result_list[0]
    page = clerk_client.get(change_page(obj))

    assert listing.status_code == 200
    assert listing.context["cl"].result_count >= 2
    assert page.status_code == 200
    assert obj.pk == page.context["original"].pk


def test_a_superuser_can_open_every_registered_store_page(client, staff_user, store_rows):
    store_rows(1)
    client.force_login(staff_user)

    for model in admin.site._registry:
        if model._meta.app_label not in {"accounts", "catalog", "orders", "providers", "notifications", "workflows"}:
            continue
        listing = client.get(changelist(model))
        assert listing.status_code == 200, model
        obj = listing.context["cl"].result_list[0]
        assert client.get(change_page(obj)).status_code == 200, model


@pytest.mark.parametrize("model", SHOP_STAFF_MODELS, ids=lambda model: model._meta.model_name)
def test_every_list_runs_the_same_queries_for_2_and_10_rows(clerk_client, store_rows, queries_of, model):
    url = changelist(model)
    store_rows(2)
    with_2 = queries_of(clerk_client, url)

    store_rows(8)
    rows = clerk_client.get(url).context["cl"].result_count
    with_10 = queries_of(clerk_client, url)

    assert rows >= 10
    assert with_10 == with_2


def test_the_order_page_runs_the_same_queries_for_2_and_10_events(clerk_client, order_in, queries_of):
    short = order_in("paid")
    long = order_in("delivered")

    assert queries_of(clerk_client, change_page(short)) == queries_of(clerk_client, change_page(long))


def test_the_admin_pages_of_orders_are_read_only(clerk_client, order_in):
    order = order_in("paid")

    page = clerk_client.get(change_page(order))
    listing = clerk_client.get(changelist(Order))
    post = clerk_client.post(change_page(order), {"ship_city": "Elsewhere"})

    assert page.context["has_change_permission"] is False
    assert page.context["has_add_permission"] is False
    assert 'name="ship_city"' not in page.content.decode()
    assert listing.context["has_add_permission"] is False
    assert post.status_code == 403
    assert Order.objects.get(pk=order.pk).ship_city == "Springfield"
    assert clerk_client.get(reverse("admin:orders_order_add")).status_code == 403
    assert clerk_client.get(reverse("admin:orders_order_delete", args=[order.pk])).status_code == 403
