"""The order page's timeline, computed from the order's state and its OrderEvent rows."""
import pytest

from orders.models import REVIEWING_TEXT, TIMELINE, Order
from orders.selectors import order_get, order_timeline
from orders.services import order_approve, order_cancel
from orders.states import CANCELLABLE_STATES, TERMINAL_STATES, meaning
from tests.conftest import CARD_APPROVE, CARD_DECLINE, CARD_TIMEOUT_ONCE
from tests.order_states import order_move, path_to
from tests.review_rules import rule_create


def stages(order, user) -> dict[str, str]:
    """The timeline's stages as shown, in order: label → status."""
    return {s.label: s.status for s in order_timeline(order=order_get(user=user, order_id=order.pk))}


def notes(order, user):
    return {s.key: s.note for s in order_timeline(order=order_get(user=user, order_id=order.pk))}


def statuses(order, user) -> set[str]:
    return set(stages(order, user).values())


# The stages every order shows, in order (TIMELINE's others show once reached).
ALWAYS = [stage.label for stage in TIMELINE if not stage.when_reached]


def test_a_new_order_is_queued_for_the_address_check(customer, place_order):
    order = place_order(customer)
    shown = stages(order, customer)
    assert list(shown) == ALWAYS
    assert shown["Created"] == "done" and shown["Checking the address"] == "current"
    assert set(list(shown.values())[2:]) == {"pending"}
    assert notes(order, customer)["address"] == "Queued for processing"


def test_a_validated_order_waits_for_payment(customer, place_order):
    order = order_move(place_order(customer), "validated")
    shown = stages(order, customer)
    assert shown["Checking inventory"] == "done" and shown["Processing payment"] == "current"
    assert list(shown.values()).count("current") == 1


def test_a_delivered_order_has_every_stage_done(sync_pipeline, customer, place_order):
    order = place_order(customer, card=CARD_TIMEOUT_ONCE)
    assert stages(order, customer) == {label: "done" for label in ALWAYS}
    order = Order.objects.get(pk=order.pk)
    text = notes(order, customer)
    assert text["payment"] == "Payment approved after 2 attempts · card ending 0119"
    assert order.tracking_number in text["shipping"] and order.carrier in text["shipping"]


def test_a_declined_card_shows_the_failed_payment_and_what_was_not_reached(sync_pipeline, customer, place_order):
    order = place_order(customer, card=CARD_DECLINE)
    shown = stages(order, customer)
    labels = list(shown)
    assert shown["Processing payment"] == "failed"
    assert {shown[label] for label in labels[:labels.index("Processing payment")]} == {"done"}
    assert {shown[label] for label in labels[labels.index("Processing payment") + 1:]} == {"not_reached"}
    assert notes(order, customer)["payment"] == ("Your bank declined the payment. Try another card or contact your "
                                                 "bank · no charge was made")


def test_an_undeliverable_zip_fails_the_address_check_and_asks_for_a_corrected_address(
        sync_pipeline, customer, place_order):
    order = place_order(customer, {"prod-004": 1}, card=CARD_APPROVE, zip="00000")
    shown = stages(order, customer)
    assert list(shown) == ALWAYS
    assert shown["Checking the address"] == "failed"
    assert {shown[label] for label in ALWAYS if label not in ("Created", "Checking the address")} == {"not_reached"}
    assert notes(order, customer)["address"] == "Undeliverable address (ZIP 00000)"


def test_a_label_that_keeps_failing_shows_the_failed_shipment_and_the_refund(sync_pipeline, customer, place_order):
    order = place_order(customer, {"prod-004": 1}, card=CARD_APPROVE, zip="00500")
    shown = stages(order, customer)
    assert list(shown) == [*ALWAYS, "Refunded"]
    assert (shown["Checking the address"], shown["Processing payment"], shown["Shipping"], shown["Delivered"],
            shown["Refunded"]) == ("done", "done", "failed", "not_reached", "refunded")
    text = notes(order, customer)
    assert text["shipping"] == "The carrier could not create a label (ZIP 00500)"
    assert text["refunded"].startswith("$89.99 refunded · Shipping failed")


def test_a_cancelled_order_shows_the_cancellation(customer, place_order):
    order = place_order(customer)
    order_cancel(order=order, actor=customer)
    shown = stages(order, customer)
    assert list(shown) == [*ALWAYS, "Cancelled"]
    assert shown["Created"] == "done" and shown["Cancelled"] == "cancelled"
    assert set(list(shown.values())[1:-1]) == {"not_reached"}
    assert notes(order, customer)["cancelled"] == "Cancelled by the customer"


@pytest.fixture
def approval_rule(db):
    return rule_create("Big orders", "total", "gte", "1000")


def test_a_held_order_shows_the_approval_stage(sync_pipeline, approval_rule, customer, staff_user, place_order):
    order = place_order(customer, {"prod-001": 7})
    shown = stages(order, customer)
    assert shown["Awaiting approval"] == "current"
    assert list(shown).index("Awaiting approval") == ALWAYS.index("Processing payment")
    assert notes(order, customer)["approval"] == REVIEWING_TEXT
    order_approve(order=Order.objects.get(pk=order.pk), actor=staff_user)
    shown = stages(order, customer)
    assert list(shown) == [*ALWAYS[:ALWAYS.index("Processing payment")], "Awaiting approval",
                           *ALWAYS[ALWAYS.index("Processing payment"):]]
    assert set(shown.values()) == {"done"}


def next_stage(state: str) -> str:
    """The label of the timeline stage the order's next transition on its way to delivery sets."""
    key = meaning(path_to("delivered", start=state)[0]).stages[0][0]
    return next(stage.label for stage in TIMELINE if stage.key == key)


@pytest.mark.parametrize("state", ["paid", "shipped", "awaiting_approval"])
def test_an_order_placed_before_risk_screening_shows_the_screening_passed_over(customer, order_in_state, state):
    """Orders that went past validation before the risk stage existed have no event for it: the
    stage is shown passed over, never as the step under way."""
    under_way = next_stage(state)
    order = order_in_state(state)
    order.events.filter(transition="risk_scored").delete()

    shown = stages(order, customer)

    assert shown["Verifying the order"] == "skipped"
    assert [label for label, status in shown.items() if status == "current"] == [under_way]


# --- waits on a provider -------------------------------------------------------------------------

def test_an_order_waiting_for_a_provider_says_so_on_the_stage_under_way(customer, place_order):
    from orders.services import order_transition
    from orders.services.transitions import order_waiting_record

    order = order_move(place_order(customer), "paying")
    order_waiting_record(order=order, reason="payment provider unavailable (circuit open)",
                         detail={"provider": "payment"})

    assert stages(order, customer)["Processing payment"] == "current"
    assert notes(order, customer)["payment"] == ("Waiting for the payment provider to answer; "
                                                 "your order goes on by itself")

    # Once the order moved on, the wait is over.
    order_transition(order_id=order.pk, name="payment_approved", transaction_id="txn_1", card_last4="4242")
    assert "Waiting" not in " ".join(notes(order, customer).values())


def test_a_delayed_order_tells_the_customer_what_happened(customer, place_order, client):
    from orders.services import order_transition

    order = order_move(place_order(customer), "paying")
    order_transition(order_id=order.pk, name="provider_unavailable", reason="timeout", detail={"step": "payment"})

    assert notes(order, customer)["payment"] == ("A provider did not answer; the shop will try again. "
                                                 "No charge was made.")
    client.force_login(customer)
    page = client.get(f"/orders/{order.pk}/").content.decode()
    assert "A provider did not answer; the shop will try again. No charge was made." in page
    assert "Delayed" in page


def test_a_delayed_shipment_does_not_say_nothing_was_charged(customer, place_order):
    from orders.services import order_transition

    order = order_move(place_order(customer), "shipping")
    order_transition(order_id=order.pk, name="provider_unavailable", reason="timeout", detail={"step": "shipping"})

    assert notes(order, customer)["shipping"] == "A provider did not answer; the shop will try again."


def test_a_payment_pending_at_the_bank_tells_the_customer_nothing_more_is_needed(
    sync_pipeline, customer, place_order, client
):
    from tests.payment_events import CARD_PENDING, bank_answered
    from workflows.tasks import payments_reconcile

    order = place_order(customer, card=CARD_PENDING)
    client.force_login(customer)

    page = client.get(f"/orders/{order.pk}/").content.decode()

    assert stages(order, customer)["Processing payment"] == "current"
    assert ("Waiting for your bank to confirm the payment. Nothing more is needed from you: your order goes on "
            "by itself once the bank confirms.") in page
    assert 'data-poll-backoff="1 2 5 15"' in page  # a wait of minutes: the page polls less and less often
    # Once the bank confirmed (here found by the store's own check), the page says so no more.
    bank_answered(order.pk)
    Order.objects.filter(pk=order.pk).update(charge_pending_since=order.created_at.replace(year=2000))
    payments_reconcile()
    assert "Waiting for your bank" not in client.get(f"/orders/{order.pk}/").content.decode()


# --- reached stages stay reached --------------------------------------------------------------------

def labels_shown(order, user) -> dict[str, str]:
    """The timeline's stages as the page words them: label → status label."""
    return {s.label: s.status_label for s in order_timeline(order=order_get(user=user, order_id=order.pk))}


def test_a_held_order_the_customer_cancels_shows_the_approval_stage_as_reached(customer, place_order, client):
    order = order_move(place_order(customer), "awaiting_approval")
    order_cancel(order=order, actor=customer)

    shown = stages(order, customer)

    assert shown["Awaiting approval"] == "stopped"
    assert labels_shown(order, customer)["Awaiting approval"] == "Stopped here"
    assert notes(order, customer)["approval"] == ""  # "the shop is reviewing…" is over
    assert {shown[label] for label in ("Processing payment", "Shipping", "Delivered")} == {"not_reached"}
    client.force_login(customer)
    page = client.get(f"/orders/{order.pk}/").content.decode()
    assert "Awaiting approval <span class=\"timeline__status\">— Stopped here</span>" in page


def test_an_order_cancelled_while_its_stock_is_checked_shows_the_check_reached(customer, place_order):
    order = order_move(place_order(customer), "validating")
    order_cancel(order=order, actor=customer)

    assert stages(order, customer)["Checking inventory"] == "stopped"


def test_a_stage_passed_over_reads_skipped_not_unreached(customer, place_order):
    from orders.services import order_transition

    order = order_move(place_order(customer), "screening")
    order_transition(order_id=order.pk, name="risk_unavailable")

    assert labels_shown(order, customer)["Verifying the order"] == "Skipped"


@pytest.mark.parametrize("state", sorted(CANCELLABLE_STATES | TERMINAL_STATES))
def test_no_stage_an_order_reached_reads_not_reached_once_it_ended(customer, order_in_state, state):
    """Every way an order ends, and a cancellation from every state it may be cancelled in: a
    stage with a time was reached, and says so."""
    order = order_in_state(state)
    if state in CANCELLABLE_STATES:
        order_cancel(order=order, actor=customer)

    shown = order_timeline(order=order_get(user=customer, order_id=order.pk))

    assert [stage.label for stage in shown if stage.at and stage.status in ("not_reached", "pending", "current")] == []
    assert all(stage.status_label != "Not reached" for stage in shown if stage.at)
