"""Review rules in the admin: a form of condition rows staff fill in, field errors on the row,
enable and disable from the list, and a rule tried on recent orders before it is saved."""
from datetime import timedelta
from decimal import Decimal

from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderLine
from tests.review_rules import rule_create
from workflows.models import ReviewRule

RULES = "/admin/workflows/reviewrule/"
ADD = reverse("admin:workflows_reviewrule_add")
EMPTY_ROWS = {f"c{row}_{part}": "" for row in range(8) for part in ("fact", "op", "value")}


def rule_form(**fields) -> dict:
    """The add/change form as a person fills it in: what it does, then the rows."""
    return {"name": "New account, big order", "priority": "10", "enabled": "on", "action": "hold",
            "reason": "New account over $500", "customer_message": "", "hold_hours": "", "expiry_action": "",
            "match": "all", **EMPTY_ROWS,
            "c0_fact": "total", "c0_op": "gt", "c0_value": "500",
            "c1_fact": "account_age_days", "c1_op": "lt", "c1_value": "7", **fields}


def orders_with_totals(customer, product, totals: list[tuple[str, int]]) -> list[Order]:
    """Orders straight into the table (no pipeline): (total, quantity of one line) each."""
    orders = Order.objects.bulk_create(
        Order(owner=customer, ship_address="1 Main", ship_city="X", ship_state="IL", ship_zip="62701",
              subtotal=Decimal(total), total=Decimal(total))
        for total, _ in totals
    )
    OrderLine.objects.bulk_create(
        OrderLine(order=order, product=product, product_public_id=product.public_id, name=product.name,
                  unit_price=product.price, quantity=quantity)
        for order, (_, quantity) in zip(orders, totals, strict=True)
    )
    return orders


def test_shop_staff_add_the_example_rule_and_it_holds_a_new_accounts_big_order(
    clerk_client, shop_staff, sync_pipeline, customer, other_customer, place_order
):
    response = clerk_client.post(ADD, rule_form())

    assert response.status_code == 302, response.content.decode()
    rule = ReviewRule.objects.get(name="New account, big order")
    assert rule.condition == {"all": [{"fact": "total", "op": "gt", "value": "500.00"},
                                      {"fact": "account_age_days", "op": "lt", "value": 7}]}
    assert (rule.action, rule.reason, rule.priority) == ("hold", "New account over $500", 10)
    assert LogEntry.objects.get(user=shop_staff).object_id == str(rule.pk)
    type(other_customer).objects.filter(pk=other_customer.pk).update(date_joined=timezone.now() - timedelta(days=30))
    assert Order.objects.get(pk=place_order(customer, {"prod-001": 4}).pk).state == "awaiting_approval"  # 599.96
    assert Order.objects.get(pk=place_order(other_customer, {"prod-001": 4}).pk).state == "delivered"


def test_the_rule_page_shows_the_rows_it_was_saved_with(clerk_client):
    rule = rule_create("Bulk", "item_count", "gte", 20)

    form = clerk_client.get(reverse("admin:workflows_reviewrule_change", args=[rule.pk])).context["adminform"].form

    assert (form.initial["c0_fact"], form.initial["c0_op"], form.initial["c0_value"]) == ("item_count", "gte", "20")


def test_wrong_typed_negative_and_non_ascii_values_are_refused_on_their_row(clerk_client):
    for value, message in (("-5", "cannot be negative"), ("٥٠٠", "in digits 0–9"), ("five hundred", "Enter an amount"),
                           ("12.345", "at most two decimals")):
        response = clerk_client.post(ADD, rule_form(c0_value=value))

        assert response.status_code == 200
        errors = response.context["adminform"].form.errors
        assert message in " ".join(errors["c0_value"]), (value, errors)
    response = clerk_client.post(ADD, rule_form(c1_value="7.5"))
    assert "whole number of days" in " ".join(response.context["adminform"].form.errors["c1_value"])
    response = clerk_client.post(ADD, rule_form(c1_op="", c1_value="7"))
    assert response.context["adminform"].form.errors["c1_op"] == ["Choose a fact and a test for this row."]
    assert not ReviewRule.objects.exists()


def test_a_reject_rule_needs_the_customers_message_and_a_hold_its_reason(clerk_client):
    rejected = clerk_client.post(ADD, rule_form(action="reject", reason=""))
    held = clerk_client.post(ADD, rule_form(reason=" "))

    assert "says what the customer reads" in " ".join(rejected.context["adminform"].form.errors["customer_message"])
    assert "says why" in " ".join(held.context["adminform"].form.errors["reason"])
    assert not ReviewRule.objects.exists()


def test_categories_are_chosen_by_name_and_any_overlap_matches(clerk_client, catalog):
    response = clerk_client.post(ADD, rule_form(match="any", c0_fact="categories", c0_op="in",
                                                c0_value="Software, home-office", c1_fact="", c1_op="", c1_value=""))

    assert response.status_code == 302
    assert ReviewRule.objects.get().condition == {"any": [{"fact": "categories", "op": "in",
                                                          "value": ["home-office", "software"]}]}


def test_trying_a_rule_shows_what_it_would_have_held_and_saves_nothing(clerk_client, customer, catalog):
    keyboard = catalog["prod-001"]
    orders = orders_with_totals(customer, keyboard, [("1200.00", 8), ("150.00", 1), ("999.99", 1)])

    response = clerk_client.post(ADD, rule_form(c1_fact="", c1_op="", c1_value="", c0_op="gte", c0_value="1000",
                                                _backtest="1"))

    html = response.content.decode()
    assert response.status_code == 200 and not ReviewRule.objects.exists()
    assert "It would have held 1 of the last 3 orders." in html
    assert orders[0].number in html and "Order total ($1,200.00) ≥ $1,000.00" in html
    assert orders[1].number not in html
    assert 'value="1000"' in html  # the form as typed, to save or change


def test_the_backtest_uses_the_facts_recorded_when_an_order_was_reviewed(clerk_client, customer, catalog):
    from workflows.review.evaluate import review_rule_backtest

    order, = orders_with_totals(customer, catalog["prod-001"], [("100.00", 1)])
    order.rule_evaluations.create(facts={"total": "100.00", "account_age_days": 2}, decision="pass")
    type(customer).objects.filter(pk=customer.pk).update(date_joined=timezone.now() - timedelta(days=400))
    rule = ReviewRule(condition={"all": [{"fact": "account_age_days", "op": "lt", "value": 7}]})

    row, = review_rule_backtest(rule=rule).rows

    assert (row.matched, row.recorded) == (True, True)
    rule.condition = {"all": [{"fact": "item_count", "op": "eq", "value": 1}]}
    row, = review_rule_backtest(rule=rule).rows
    assert (row.matched, row.recorded) == (True, False)


def test_the_backtest_reads_the_last_orders_in_few_queries(customer, catalog, django_assert_max_num_queries):
    from workflows.review.evaluate import review_rule_backtest

    orders_with_totals(customer, catalog["prod-001"], [("5000.00", 1)] * 5)
    orders_with_totals(customer, catalog["prod-001"], [("1200.00", 8)] * 3 + [("150.00", 1)] * 97)
    rule = ReviewRule(condition={"all": [{"fact": "total", "op": "gte", "value": "1000.00"},
                                         {"fact": "categories", "op": "in", "value": ["electronics"]},
                                         {"fact": "lifetime_spend", "op": "gte", "value": "0.00"}]})

    with django_assert_max_num_queries(5):
        result = review_rule_backtest(rule=rule)

    assert (len(result.matched), result.considered) == (3, 100)


def test_enabled_is_edited_in_the_list(clerk_client):
    rules = [rule_create(f"Rule {i}", "total", "gte", str(100 * i)) for i in (1, 2)]
    html = clerk_client.get(RULES).content.decode()
    assert 'name="form-0-enabled"' in html and "Order total ≥ $100.00" in html

    response = clerk_client.post(RULES, {
        "form-TOTAL_FORMS": "2", "form-INITIAL_FORMS": "2", "form-MIN_NUM_FORMS": "0", "form-MAX_NUM_FORMS": "1000",
        "form-0-id": rules[0].pk, "form-0-enabled": "on",
        "form-1-id": rules[1].pk,
        "_save": "Save",
    })

    assert response.status_code == 302
    assert [ReviewRule.objects.get(pk=r.pk).enabled for r in rules] == [True, False]


def test_bulk_disable_and_enable_are_logged(clerk_client, shop_staff):
    rules = [rule_create(f"Rule {i}", "total", "gte", str(100 * i)) for i in (1, 2)]
    ids = [r.pk for r in rules]

    off = clerk_client.post(RULES, {"action": "disable_selected", "_selected_action": ids, "index": 0}, follow=True)
    assert not ReviewRule.objects.filter(enabled=True).exists()
    on = clerk_client.post(RULES, {"action": "enable_selected", "_selected_action": ids[:1], "index": 0},
                           follow=True)

    assert [r.enabled for r in ReviewRule.objects.order_by("name")] == [True, False]
    assert [str(m) for m in off.context["messages"]] == ["Disabled 2 rules."]
    assert [str(m) for m in on.context["messages"]] == ["Enabled 1 rule."]
    assert LogEntry.objects.filter(user=shop_staff).count() == 3


def test_a_nested_condition_from_the_api_is_shown_in_words_and_kept(clerk_client):
    tree = {"any": [{"all": [{"fact": "total", "op": "gt", "value": "500.00"},
                             {"fact": "account_age_days", "op": "lt", "value": 7}]},
                    {"fact": "risk_score", "op": "gte", "value": 90}]}
    rule = ReviewRule.objects.create(name="Nested", reason="Nested", condition=tree)
    page = reverse("admin:workflows_reviewrule_change", args=[rule.pk])

    html = clerk_client.get(page).content.decode()
    response = clerk_client.post(page, {"name": "Nested, renamed", "priority": "100", "enabled": "on",
                                        "action": "hold", "reason": "Nested", "customer_message": "",
                                        "hold_hours": "", "expiry_action": ""})

    assert "written through the API" in html and "(Order total &gt; $500.00 and Account age in days &lt; 7)" in html
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.condition) == ("Nested, renamed", tree)
