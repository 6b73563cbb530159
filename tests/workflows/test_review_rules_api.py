"""/api/review-rules: the same rules, checked the same way, for staff with the rule permissions."""
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order
from store.errors import NotFound
from workflows.models import ReviewRule

EXAMPLE = {"name": "New account, big order", "priority": 10, "enabled": True, "action": "hold",
           "reason": "New account over $500",
           "condition": {"all": [{"fact": "total", "op": "gt", "value": 500},
                                 {"fact": "account_age_days", "op": "lt", "value": 7}]}}


def test_the_example_rule_through_the_api_holds_a_new_accounts_600_order_and_not_an_old_accounts(
    jwt_client, shop_staff, sync_pipeline, customer, other_customer, place_order
):
    response = jwt_client(shop_staff).post("/api/review-rules", EXAMPLE, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["condition"] == {"all": [{"fact": "total", "op": "gt", "value": "500.00"},
                                         {"fact": "account_age_days", "op": "lt", "value": 7}]}
    assert body["conditionText"] == "Order total > $500.00 and Account age in days < 7"
    assert (body["customerMessage"], body["holdHours"], body["expiryAction"]) == ("", None, "")
    type(other_customer).objects.filter(pk=other_customer.pk).update(date_joined=timezone.now() - timedelta(days=30))
    new = place_order(customer, {"prod-001": 4})  # 599.96
    old = place_order(other_customer, {"prod-001": 4})
    assert Order.objects.get(pk=new.pk).state == "awaiting_approval"
    assert Order.objects.get(pk=old.pk).state == "delivered"


def test_bad_values_are_refused_with_a_field_error_naming_the_condition(jwt_client, shop_staff):
    bad = {**EXAMPLE, "condition": {"all": [{"fact": "total", "op": "gt", "value": -5},
                                            {"not": {"fact": "account_age_days", "op": "lt", "value": "٧"}},
                                            {"fact": "zip_prefix", "op": "gt", "value": "606"}]}}

    response = jwt_client(shop_staff).post("/api/review-rules", bad, format="json")

    assert response.status_code == 400
    problems = response.json()["fields"]["condition"]
    assert problems[0].startswith("all[0] (Order total): ") and "cannot be negative" in problems[0]
    assert problems[1].startswith("all[1].not (Account age in days): ") and "digits 0–9" in problems[1]
    assert problems[2].startswith("all[2] (ZIP code's first three digits): ")
    assert not ReviewRule.objects.exists()


def test_a_reject_rule_needs_the_customers_message(jwt_client, shop_staff):
    response = jwt_client(shop_staff).post("/api/review-rules", {**EXAMPLE, "action": "reject"}, format="json")

    assert response.status_code == 400
    assert "customerMessage" in response.json()["fields"]


def test_staff_change_and_delete_rules_and_customers_cannot_read_them(jwt_client, shop_staff, customer):
    rule_id = jwt_client(shop_staff).post("/api/review-rules", EXAMPLE, format="json").json()["id"]

    changed = jwt_client(shop_staff).patch(f"/api/review-rules/{rule_id}", {"enabled": False, "priority": "٣"},
                                           format="json")
    assert changed.status_code == 400 and "priority" in changed.json()["fields"]
    changed = jwt_client(shop_staff).patch(f"/api/review-rules/{rule_id}", {"enabled": False}, format="json")
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    assert jwt_client(customer).get("/api/review-rules").status_code == 403
    assert jwt_client(customer).delete(f"/api/review-rules/{rule_id}").status_code == 403
    assert jwt_client(shop_staff).delete(f"/api/review-rules/{rule_id}").status_code == 204
    assert jwt_client(shop_staff).get(f"/api/review-rules/{rule_id}").status_code == 404


def test_the_backtest_says_which_recent_orders_the_rule_would_have_held_and_why(
    jwt_client, shop_staff, customer, place_order
):
    big = place_order(customer, {"prod-001": 7})
    place_order(customer, {"prod-002": 1})

    response = jwt_client(shop_staff).post("/api/review-rules/backtest", {"rule": {**EXAMPLE, "condition": {
        "all": [{"fact": "total", "op": "gte", "value": "1000"}]}}, "last": 10}, format="json")

    assert response.status_code == 200
    assert response.json()["considered"] == 2 and response.json()["matched"] == 1
    row, = response.json()["orders"]
    assert (row["order"], row["because"]) == (big.pk, "Order total ($1,049.93) ≥ $1,000.00")
    assert not ReviewRule.objects.exists()


def test_odd_shapes_and_sizes_are_refused_with_400_never_500(jwt_client, shop_staff):
    api = jwt_client(shop_staff)
    for condition in ({"fact": "total", "op": [], "value": 1}, {"fact": "total", "op": {}, "value": 1},
                      {"fact": "item_count", "op": "gt", "value": "9" * 5000},
                      {"fact": "total", "op": "gt", "value": "9" * 5000}):
        response = api.post("/api/review-rules", {**EXAMPLE, "condition": condition}, format="json")
        assert response.status_code == 400, (condition, response.content[:200])
    many = {"any": [{"fact": "total", "op": "gt", "value": -1}] * 20000}
    response = api.post("/api/review-rules", {**EXAMPLE, "condition": many}, format="json")
    assert response.status_code == 400 and len(response.content) < 2000
    assert response.json()["fields"]["condition"] == ["any: A group holds at most 30 conditions."]
    top = api.post("/api/review-rules", {**EXAMPLE, "condition": {"fact": "total", "op": "gt", "value": -1}},
                   format="json")
    assert top.json()["fields"]["condition"][0].startswith("Order total: ")


def test_a_rule_whose_category_was_deleted_can_still_be_switched_off_and_the_list_edited(
    jwt_client, shop_staff, catalog, client
):
    from catalog.models import Category

    Category.objects.create(name="Gift cards", slug="gift-cards")
    body = {**EXAMPLE, "condition": {"all": [{"fact": "categories", "op": "in", "value": ["gift-cards"]}]}}
    rule_id = jwt_client(shop_staff).post("/api/review-rules", body, format="json").json()["id"]
    Category.objects.filter(slug="gift-cards").delete()

    response = jwt_client(shop_staff).patch(f"/api/review-rules/{rule_id}", {"enabled": False}, format="json")
    assert response.status_code == 200 and response.json()["enabled"] is False
    client.force_login(shop_staff)
    listed = client.post("/admin/workflows/reviewrule/", {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-MIN_NUM_FORMS": "0", "form-MAX_NUM_FORMS": "1000",
        "form-0-id": rule_id, "form-0-enabled": "on", "_save": "Save"})
    assert listed.status_code == 302 and ReviewRule.objects.get(pk=rule_id).enabled


def test_the_backtest_shows_orders_only_to_staff_who_may_see_them(jwt_client, make_user, customer, place_order):
    from django.contrib.auth.models import Permission

    place_order(customer, {"prod-001": 7})
    rules_only = make_user("rules@example.com", is_staff=True)
    rules_only.user_permissions.add(Permission.objects.get(codename="view_reviewrule"))
    body = {"rule": {**EXAMPLE, "condition": {"all": [{"fact": "total", "op": "gte", "value": "1000"}]}}}

    response = jwt_client(rules_only).post("/api/review-rules/backtest", body, format="json")

    assert response.status_code == 403 and "other customers' orders" in response.json()["error"]
    rules_only.user_permissions.add(Permission.objects.get(codename="view_order"))
    assert jwt_client(type(rules_only).objects.get(pk=rules_only.pk)).post(
        "/api/review-rules/backtest", body, format="json").status_code == 200


def test_a_change_to_a_rule_deleted_meanwhile_does_not_bring_it_back(jwt_client, shop_staff):
    from workflows.review.rules import review_rule_update

    rule_id = jwt_client(shop_staff).post("/api/review-rules", EXAMPLE, format="json").json()["id"]
    stale = ReviewRule.objects.get(pk=rule_id)
    ReviewRule.objects.filter(pk=rule_id).delete()


    with pytest.raises(NotFound):
        review_rule_update(rule=stale, actor=shop_staff, enabled=False)
    assert not ReviewRule.objects.filter(pk=rule_id).exists()
