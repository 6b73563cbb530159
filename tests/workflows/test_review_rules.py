"""Review rules as the pipeline asks them: a condition tree over typed facts, hold or reject,
every evaluation recorded with the order."""
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.models import Product
from orders.models import Order, OrderEvent
from orders.services import refund_create
from tests.conftest import CARD_APPROVE, CARD_DECLINE
from tests.order_states import order_move
from tests.review_rules import rule_create
from workflows.models import Hold, ReviewRule, RuleEvaluation
from workflows.review.conditions import ConditionInvalid, condition_clean, condition_words
from workflows.review.facts import facts_read

EXAMPLE = {"all": [{"fact": "total", "op": "gt", "value": 500}, {"fact": "account_age_days", "op": "lt", "value": 7}]}


@pytest.fixture
def new_account_rule(db):
    rule = ReviewRule(name="New account, big order", priority=10, action="hold", reason="New account over $500",
                      condition=condition_clean(EXAMPLE))
    rule.full_clean()
    rule.save()
    return rule


def joined_days_ago(user, days: int):
    type(user).objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(days=days))


def test_the_example_rule_holds_a_new_accounts_big_order_and_not_an_old_accounts(
    sync_pipeline, new_account_rule, customer, other_customer, place_order, staff_user, client
):
    joined_days_ago(other_customer, 30)

    new = Order.objects.get(pk=place_order(customer, {"prod-001": 5}).pk)  # 5 × 149.99 = 749.95
    old = Order.objects.get(pk=place_order(other_customer, {"prod-001": 5}).pk)
    small = Order.objects.get(pk=place_order(customer, {"prod-002": 1}).pk)

    assert (new.state, old.state, small.state) == ("awaiting_approval", "delivered", "delivered")
    evaluation = RuleEvaluation.objects.get(order=new)
    assert evaluation.decision == "hold" and evaluation.rule == new_account_rule
    assert evaluation.facts == {"total": "749.95", "account_age_days": 0}
    assert evaluation.outcomes == [{"rule": new_account_rule.pk, "name": "New account, big order", "action": "hold",
                                    "matched": True, "because": "Order total ($749.95) > $500.00 and Account age in "
                                                                "days (0) < 7"}]
    assert RuleEvaluation.objects.get(order=old).decision == "pass"
    hold = Hold.objects.get(order=new)
    assert (hold.rule, hold.reason, hold.system) == (new_account_rule, "New account over $500", False)
    assert timedelta(hours=23, minutes=59) < hold.deadline - hold.created_at <= timedelta(hours=24)
    assert not Hold.objects.filter(order=old).exists()
    client.force_login(staff_user)
    queue = client.get("/admin/orders/orderawaitingapproval/").content.decode()
    assert "New account over $500" in queue and "Order total ($749.95) &gt; $500.00 and Account age in days (0) &lt; 7" in queue


def test_the_first_matching_rule_by_priority_decides_and_every_outcome_is_recorded(
    sync_pipeline, customer, place_order
):
    later = rule_create("Any order over $100", "total", "gt", "100", priority=20)
    first = rule_create("Refuse keyboards in bulk", "item_count", "gte", 3, priority=5, action="reject",
                        customer_message="We cannot sell this many keyboards at once.")
    disabled = rule_create("Everything", "total", "gte", "0", priority=1, enabled=False)

    order = Order.objects.get(pk=place_order(customer, {"prod-001": 3}).pk)

    evaluation = RuleEvaluation.objects.get(order=order)
    assert [(o["name"], o["matched"]) for o in evaluation.outcomes] == [(first.name, True), (later.name, True)]
    assert (evaluation.decision, evaluation.rule) == ("reject", first)
    assert disabled.pk not in [o["rule"] for o in evaluation.outcomes]


def test_a_reject_rule_cancels_before_payment_releases_stock_and_tells_the_customer_its_message(
    sync_pipeline, customer, place_order, client, mailoutbox
):
    rule_create("No orders to ZIP 999", "zip_prefix", "eq", "999", action="reject", reason="Fraud ring in 999",
                customer_message="We cannot ship to this ZIP code.")
    stock = Product.objects.get(public_id="prod-003").stock

    order = Order.objects.get(pk=place_order(customer, {"prod-003": 2}, zip="99950").pk)

    assert (order.state, order.failure_reason, order.transaction_id) == ("cancelled", "We cannot ship to this ZIP "
                                                                         "code.", "")
    assert Product.objects.get(public_id="prod-003").stock == stock
    assert order.events.filter(transition__in=["start_payment", "payment_approved"]).count() == 0
    client.force_login(customer)
    page = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    assert "We cannot ship to this ZIP code." in page
    assert "Fraud ring" not in page and "No orders to ZIP" not in page
    mail = [m for m in mailoutbox if "cancelled" in m.subject]
    assert mail and "We cannot ship to this ZIP code." in mail[0].body and "Fraud ring" not in mail[0].body


def test_a_held_customer_is_told_the_order_is_reviewed_and_nothing_was_charged(
    sync_pipeline, customer, place_order, client, mailoutbox
):
    rule_create("Big orders", "total", "gte", "1000")

    order = place_order(customer, {"prod-001": 7})

    client.force_login(customer)
    page = client.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    assert "reviewing this order" in page and "nothing was charged yet" in page
    held = [m for m in mailoutbox if "being reviewed" in m.subject]
    assert held and "Nothing was charged yet" in held[0].body and "Big orders" not in held[0].body


def test_each_fact_reads_the_order_and_the_customer_before_it(customer, other_customer, place_order, catalog):
    joined_days_ago(customer, 10)
    delivered = order_move(place_order(customer, {"prod-001": 2}), "delivered")  # 299.98 paid
    refund_create(order=delivered, amount=Decimal("50.00"), reason="Scratched", actor=None)
    order_move(place_order(customer, {"prod-002": 1}), "payment_failed")  # one decline
    order_move(place_order(other_customer, {"prod-001": 9}), "delivered")  # someone else's
    order = place_order(customer, {"prod-005": 2, "prod-008": 3}, zip="60614")

    facts = facts_read([order.pk], ["total", "item_count", "line_count", "categories", "ship_state", "zip_prefix",
                                    "risk_score", "account_age_days", "delivered_orders", "lifetime_spend",
                                    "declines_30d"])[order.pk]

    assert facts == {"total": Decimal("99.95"), "item_count": 5, "line_count": 2,
                     "categories": ["accessories", "software"], "ship_state": "IL", "zip_prefix": "606",
                     "risk_score": None, "account_age_days": 10, "delivered_orders": 1,
                     "lifetime_spend": Decimal("249.98"), "declines_30d": 1}


@pytest.mark.parametrize(("condition", "problem"), [
    ({"fact": "total", "op": "gte", "value": -5}, "(Order total): Enter an amount in dollars with at most two "
                                                  "decimals"),
    ({"fact": "total", "op": "gte", "value": "٥٠"}, "in digits 0–9"),
    ({"fact": "total", "op": "gt", "value": "10.005"}, "at most two decimals"),
    ({"fact": "account_age_days", "op": "lt", "value": "seven"}, "(Account age in days): Enter a whole number"),
    ({"fact": "account_age_days", "op": "lt", "value": 7.5}, "Enter a whole number of days"),
    ({"fact": "risk_score", "op": "gt", "value": 101}, "from 0 to 100"),
    ({"fact": "zip_prefix", "op": "gt", "value": "606"}, "can only be compared with: is, is not, is one of"),
    ({"fact": "zip_prefix", "op": "eq", "value": "60"}, "first three digits"),
    ({"fact": "categories", "op": "in", "value": ["no-such-thing"]}, "categories of the catalog"),
    ({"fact": "shoe_size", "op": "eq", "value": 9}, "Unknown fact 'shoe_size'"),
    ({"fact": "total", "op": "in", "value": 5}, "a list of one or more values"),
    ({"all": []}, "all: Expected a list of one or more conditions."),
    ({"fact": "total", "op": "gt"}, 'exactly "fact", "op" and "value"'),
])
def test_values_are_checked_against_the_facts_type_and_range(condition, problem, catalog):
    with pytest.raises(ConditionInvalid) as refused:
        condition_clean({"all": [{"fact": "item_count", "op": "gt", "value": 1}, condition]})

    assert problem in str(refused.value)
    if "fact" in condition or "all" in condition:
        assert str(refused.value).startswith("all[1]")


def test_a_tree_of_all_any_and_not_is_evaluated_and_said_in_words(catalog):
    tree = condition_clean({"any": [
        {"all": [{"fact": "total", "op": "gte", "value": "100"}, {"fact": "ship_state", "op": "in",
                                                                    "value": ["ak", "HI"]}]},
        {"not": {"fact": "categories", "op": "in", "value": ["software"]}},
    ]})

    assert tree["any"][0]["all"][1]["value"] == ["AK", "HI"]
    assert condition_words(tree) == ("(Order total ≥ $100.00 and Shipping state (USPS code) is one of AK, HI) or "
                                     "not (Categories in the order includes one of Software)")
    from workflows.review.conditions import condition_matches
    alaska = {"total": Decimal("120"), "ship_state": "AK", "categories": ["software"]}
    assert condition_matches(tree, alaska)
    assert not condition_matches(tree, {**alaska, "ship_state": "IL"})
    assert condition_matches(tree, {**alaska, "ship_state": "IL", "categories": ["electronics"]})
    json.dumps(tree)  # kept as JSON


def test_a_declined_payment_counts_for_the_customers_next_order(sync_pipeline, customer, place_order):
    rule_create("Declined lately", "declines_30d", "gte", 1)

    declined = Order.objects.get(pk=place_order(customer, card=CARD_DECLINE).pk)
    after = Order.objects.get(pk=place_order(customer, card=CARD_APPROVE).pk)

    assert declined.state == "failed" and RuleEvaluation.objects.get(order=declined).decision == "pass"
    assert after.state == "awaiting_approval"
    assert RuleEvaluation.objects.get(order=after).facts["declines_30d"] == OrderEvent.objects.filter(
        order=declined, transition="payment_declined").count()


@pytest.mark.parametrize("written", ["IL", "Illinois", "I.L.", "IL.", "ＩＬ", " il "])
def test_a_rule_on_a_state_reads_it_however_the_customer_wrote_it(written, customer, catalog):
    from orders.services import LineRequest, ShippingAddress, order_place
    from tests.conftest import SHIPPING
    from workflows.review.evaluate import review_evaluate

    rule = rule_create("Illinois", "ship_state", "eq", "illinois")
    order = order_place(user=customer, lines=[LineRequest("prod-002", 1)],
                        shipping=ShippingAddress(**{**SHIPPING, "state": written})).order

    assert rule.condition["all"][0]["value"] == "IL"
    assert review_evaluate(order).decision == "hold"


def test_a_rule_deleted_while_the_review_runs_leaves_the_order_decided_by_the_rules_left(
    sync_pipeline, customer, place_order, monkeypatch
):
    from workflows import pipeline

    doomed = rule_create("Doomed", "total", "gte", "0")
    real = pipeline.review_evaluate
    calls = []

    def evaluate_then_delete(order):
        evaluation = real(order)
        if not calls:
            ReviewRule.objects.filter(pk=doomed.pk).delete()
        calls.append(evaluation.decision)
        return evaluation

    monkeypatch.setattr(pipeline, "review_evaluate", evaluate_then_delete)
    order = Order.objects.get(pk=place_order(customer).pk)

    assert calls == ["hold", "pass"] and order.state == "delivered"
