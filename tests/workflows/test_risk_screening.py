"""Risk screening: every order is scored 0-100 between validation and payment; the score is
kept on the order, shown to staff (order page, trace) but not to the customer, and review
rules can hold an order on it."""

import pytest
from django.urls import reverse

from orders.models import Order
from providers.models import GatewayCall
from providers.registry import provider
from providers.risk import HIGH_RISK_ZIP, RiskProvider
from tests.conftest import CARD_APPROVE
from tests.review_rules import rule_create
from tests.workflow_versions import version_publish_with
from workflows.review.evaluate import review_rule_backtest


@pytest.fixture
def high_risk_rule(db):
    return rule_create("A risk score of 80 or more needs approval", "risk_score", "gte", 80)


def test_every_order_passes_through_screening_and_keeps_its_score(sync_pipeline, customer, place_order):
    order = Order.objects.get(pk=place_order(customer, card=CARD_APPROVE).pk)

    assert order.state == "delivered"
    assert 0 <= order.risk_score < 80
    steps = list(order.events.values_list("source_state", "transition", "target_state"))
    assert ("validating", "validation_passed", "screening") in steps
    assert ("screening", "risk_scored", "validated") in steps
    scored = order.events.get(transition="risk_scored")
    assert scored.detail["risk_score"] == str(order.risk_score) and scored.detail["step"] == "risk"


def test_the_same_order_scores_the_same_again(sync_pipeline, customer, place_order):
    """Seeded by the call's key: screening a redelivered step answers as the first time."""
    order = Order.objects.get(pk=place_order(customer, card=CARD_APPROVE).pk)
    again = provider("risk").score(key=f"order-{order.pk}-risk", order_id=order.pk, amount=order.total,
                                   items=sum(line.quantity for line in order.lines.all()), zip_code=order.ship_zip)
    assert again.data["score"] == order.risk_score
    assert isinstance(provider("risk"), RiskProvider)


def test_screening_calls_are_in_the_gateway_calls_list(sync_pipeline, customer, staff_user, place_order, client):
    """Staff find each order's risk screening among the simulators' calls, as its other calls."""
    order = place_order(customer, card=CARD_APPROVE)

    call = GatewayCall.objects.get(order_id=order.pk, gateway="risk")
    assert (call.operation, call.idempotency_key, call.outcome, call.final) == ("score", f"order-{order.pk}-risk",
                                                                                "ok", True)
    client.force_login(staff_user)
    listed = client.get(reverse("admin:providers_gatewaycall_changelist"), {"gateway": "risk"}).content.decode()
    assert f"order-{order.pk}-risk" in listed


def test_the_high_risk_zip_is_held_for_review_with_its_score_shown_to_staff_only(
    sync_pipeline, high_risk_rule, customer, staff_user, place_order, client, jwt_client
):
    order = Order.objects.get(pk=place_order(customer, card=CARD_APPROVE, zip=HIGH_RISK_ZIP).pk)

    assert (order.state, order.risk_score) == ("awaiting_approval", 95)
    assert order.events.get(transition="hold_for_review").detail["rule"] == high_risk_rule.name
    client.force_login(staff_user)
    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "Risk score (0–100): 95" in page
    staff_trace = jwt_client(staff_user).get(f"/api/orders/{order.pk}").json()["timeline"]
    assert next(e["detail"] for e in staff_trace if e["transition"] == "risk_scored")["risk_score"] == "95"
    customer_trace = jwt_client(customer).get(f"/api/orders/{order.pk}").json()["timeline"]
    assert all("risk_score" not in entry["detail"] for entry in customer_trace)
    client.force_login(customer)
    assert "risk score" not in client.get(reverse("orders:order_detail", args=[order.pk])).content.decode().lower()


def test_without_a_rule_on_the_score_a_high_score_alone_holds_nothing(sync_pipeline, customer, place_order):
    order = Order.objects.get(pk=place_order(customer, card=CARD_APPROVE, zip=HIGH_RISK_ZIP).pk)
    assert (order.state, order.risk_score) == ("delivered", 95)


def test_a_risk_provider_that_does_not_answer_hands_the_order_to_a_person(
    sync_pipeline, settings, customer, place_order, monkeypatch
):
    settings.SIMULATOR = {**settings.SIMULATOR, "LATENCY_SCALE": 1, "RISK_LATENCY_MS": (500, 500),
                          "INVENTORY_LATENCY_MS": (0, 0), "NOTIFICATION_LATENCY_MS": (0, 0)}
    version_publish_with({"steps.risk.attempts": 2, "steps.risk.backoff.baseSeconds": 0,
                          "steps.risk.timeoutSeconds": 0.02})

    order = Order.objects.get(pk=place_order(customer, card=CARD_APPROVE).pk)

    assert (order.state, order.risk_score) == ("awaiting_approval", None)
    held = order.events.get(transition="risk_unavailable")
    assert held.detail["attempts"] == 2 and "timed out" in held.detail["reason"]
    assert order.events.last().event_type == "order.held"


def test_rules_can_test_the_score_and_orders_without_one_never_match(
    high_risk_rule, customer, place_order, staff_user, client
):
    scored, unscored = place_order(customer), place_order(customer)
    Order.objects.filter(pk=scored.pk).update(risk_score=90)

    assert len(review_rule_backtest(rule=high_risk_rule).matched) == 1
    assert unscored.risk_score is None
    client.force_login(staff_user)
    form = client.get(reverse("admin:workflows_reviewrule_add")).content.decode()
    assert "<option value=\"risk_score\">Risk score (0–100)</option>" in form
