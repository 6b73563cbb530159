"""Review rules in the admin: edit, enable and disable them, and see what a rule would have held."""
from decimal import Decimal

from django.contrib.admin.models import LogEntry
from django.urls import reverse

from orders.models import Order, OrderLine
from workflows.models import ReviewRule
from workflows.selectors import review_rule_backtest

RULES = "/admin/workflows/reviewrule/"


def orders_with_totals(customer, product, totals: list[tuple[str, int]]) -> None:
    """Orders straight into the table (no pipeline): (total, quantity of one line) each."""
    orders = Order.objects.bulk_create(
        Order(owner=customer, ship_address="1 Main", ship_city="X", ship_state="IL", ship_zip="62701",
              total=Decimal(total))
        for total, _ in totals
    )
    OrderLine.objects.bulk_create(
        OrderLine(order=order, product=product, product_public_id=product.public_id, name=product.name,
                  unit_price=product.price, quantity=quantity)
        for order, (_, quantity) in zip(orders, totals, strict=True)
    )


def test_the_backtest_counts_the_last_100_orders_in_one_query(customer, catalog, django_assert_num_queries):
    keyboard = catalog["prod-001"]
    orders_with_totals(customer, keyboard, [("5000.00", 1)] * 5)  # the oldest: beyond the last 100
    orders_with_totals(customer, keyboard, [("1200.00", 8)] * 3 + [("150.00", 1)] * 97)
    big = ReviewRule(name="Big", field="total", operator="gte", value=Decimal("1000"))
    many = ReviewRule(name="Many", field="item_count", operator="gt", value=Decimal("5"))
    lines = ReviewRule(name="Lines", field="line_count", operator="eq", value=Decimal("1"))

    with django_assert_num_queries(1):
        result = review_rule_backtest(rule=big)

    assert (result.held, result.considered) == (3, 100)
    assert review_rule_backtest(rule=many).held == 3
    assert review_rule_backtest(rule=lines).held == 100


def test_the_rule_page_shows_what_the_rule_would_have_held(clerk_client, customer, catalog):
    orders_with_totals(customer, catalog["prod-001"], [("1200.00", 8), ("150.00", 1), ("999.99", 1)])
    rule = ReviewRule.objects.create(name="Big orders", field="total", operator="gte", value=Decimal("1000"),
                                     enabled=False)

    html = clerk_client.get(reverse("admin:workflows_reviewrule_change", args=[rule.pk])).content.decode()

    assert "1 of the last 3 orders" in html


def test_staff_edit_a_rule(clerk_client, shop_staff):
    rule = ReviewRule.objects.create(name="Big orders", field="total", operator="gte", value=Decimal("1000"))

    response = clerk_client.post(reverse("admin:workflows_reviewrule_change", args=[rule.pk]), {
        "name": "Very big orders", "field": "total", "operator": "gt", "value": "2500", "enabled": "on",
    })

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.operator, rule.value, rule.enabled) == ("Very big orders", "gt", Decimal("2500"), True)
    assert LogEntry.objects.get(user=shop_staff).object_id == str(rule.pk)


def test_a_superuser_adds_a_rule(client, staff_user):
    client.force_login(staff_user)

    response = client.post(reverse("admin:workflows_reviewrule_add"), {
        "name": "Bulk buyers", "field": "item_count", "operator": "gte", "value": "20", "enabled": "on",
    })

    assert response.status_code == 302
    assert ReviewRule.objects.get(name="Bulk buyers").matches(total=Decimal("10"), item_count=20, line_count=1)


def test_enabled_is_edited_in_the_list(clerk_client):
    rules = [ReviewRule.objects.create(name=f"Rule {i}", field="total", operator="gte", value=Decimal(100 * i))
             for i in (1, 2)]
    html = clerk_client.get(RULES).content.decode()
    assert 'name="form-0-enabled"' in html

    response = clerk_client.post(RULES, {
        "form-TOTAL_FORMS": "2", "form-INITIAL_FORMS": "2", "form-MIN_NUM_FORMS": "0", "form-MAX_NUM_FORMS": "1000",
        "form-0-id": rules[0].pk, "form-0-enabled": "on",
        "form-1-id": rules[1].pk,
        "_save": "Save",
    })

    assert response.status_code == 302
    assert [ReviewRule.objects.get(pk=r.pk).enabled for r in rules] == [True, False]


def test_bulk_disable_and_enable_are_logged(clerk_client, shop_staff):
    rules = [ReviewRule.objects.create(name=f"Rule {i}", field="total", operator="gte", value=Decimal(100 * i))
             for i in (1, 2)]
    ids = [r.pk for r in rules]

    off = clerk_client.post(RULES, {"action": "disable_selected", "_selected_action": ids, "index": 0}, follow=True)
    assert not ReviewRule.objects.filter(enabled=True).exists()
    on = clerk_client.post(RULES, {"action": "enable_selected", "_selected_action": ids[:1], "index": 0},
                           follow=True)

    assert [r.enabled for r in ReviewRule.objects.order_by("name")] == [True, False]
    assert [str(m) for m in off.context["messages"]] == ["Disabled 2 rules."]
    assert [str(m) for m in on.context["messages"]] == ["Enabled 1 rule."]
    assert LogEntry.objects.filter(user=shop_staff).count() == 3
