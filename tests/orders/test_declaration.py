"""What a transition means is declared once, on it: the published events, the timeline, the
admin's buttons, the API's allowed actions and the state groups all come from that declaration."""
import pytest
from django.urls import resolve, reverse

from backoffice.admin.actions import ORDER_ACTIONS
from orders.api.views import ACTION_VIEWS, OrderActionApi, OrderRefundApi
from orders.meaning import Meaning, Option
from orders.models import TIMELINE, Order, OrderState
from orders.selectors import order_timeline
from orders.states import (
    CANCELLABLE_STATES,
    EVENT_OF_TRANSITION,
    FULL_REFUND_TRANSITION,
    PAID_STATES,
    PAYMENT_FAILED_ENDINGS,
    REFUNDABLE_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    WAITING_STATES,
    WORKING_STATES,
    meaning,
    transitions_from,
)
from store import permissions
from store.permissions import SYSTEM, OwnerOr, StaffAction
from tests.order_states import path_to

EDGES = tuple(Order._meta.get_field("state").get_all_transitions(Order))
PEOPLE = {name: declared for name, declared in TRANSITIONS.items() if declared.permission is not SYSTEM}
STAGES = {stage.key for stage in TIMELINE}
API_VIEWS = ACTION_VIEWS


def sources(name: str) -> set[str]:
    return {edge.source for edge in EDGES if edge.name == name}


@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_every_transition_declares_its_meaning_and_who_fires_it(name):
    declared = TRANSITIONS[name]
    said = declared.custom["meaning"]
    assert isinstance(said, Meaning) and said.label
    assert declared.permission is SYSTEM or isinstance(declared.permission, StaffAction | OwnerOr)
    assert {key for key, _ in said.stages} <= STAGES
    assert EVENT_OF_TRANSITION.get(name, "") == said.event
    if declared.permission is SYSTEM:
        assert not said.action, "the pipeline's own transitions are not people's actions"
    else:
        assert said.action in API_VIEWS and said.done


def test_the_state_groups_are_read_from_the_declaration():
    assert CANCELLABLE_STATES == sources("cancel") == {"new", "checking_address", "validating", "screening",
                                                         "validated", "awaiting_approval", "payment_failed", "stalled"}
    assert REFUNDABLE_STATES == sources("refund")
    assert WAITING_STATES == {TRANSITIONS[n].target for n in TRANSITIONS if meaning(n).waits} == {"awaiting_approval",
                                                                                           "stalled"}
    assert TERMINAL_STATES == {"delivered", "cancelled", "failed", "refunded", "returned"}
    for state in TERMINAL_STATES:
        assert all(meaning(edge.name).after_end for edge in transitions_from(state))
    assert WORKING_STATES == set(OrderState) - TERMINAL_STATES - WAITING_STATES
    assert PAYMENT_FAILED_ENDINGS == {"abandon_payment", "payment_declined_hard", "payment_expired"}
    assert TRANSITIONS["address_undeliverable"].source == "checking_address"  # before any money moves
    assert "refunded" not in PAID_STATES and TRANSITIONS["payment_approved"].target in PAID_STATES
    assert "returning" in PAID_STATES and "returned" not in PAID_STATES  # the refund is still to make
    assert FULL_REFUND_TRANSITION == {"ship_failed": "refund", "paid": "refund", "shipped": "refund",
                                      "delivered": "refund", "returning": "return_refunded"}
    assert not {"checking_address", "validating", "screening", "paying"} & PAID_STATES  # guarded re-drives are not followed


def test_there_is_one_cancel():
    assert [name for name in TRANSITIONS if TRANSITIONS[name].target == "cancelled" and meaning(name).action] == [
        "reject", "cancel"]


def test_each_admin_button_is_a_declared_transition_of_people_but_one():
    by_transition = {action.transition: action for action in ORDER_ACTIONS.values() if action.transition}
    assert set(by_transition) == {name for name in PEOPLE if meaning(name).button}
    for name, action in by_transition.items():
        said = meaning(name)
        assert (action.label, action.done, action.confirm, action.default_message) == (
            said.label, said.done, said.confirm, said.default_reason)
        declared = PEOPLE[name].permission
        assert action.permission == getattr(declared, "action", declared)
    # The one button that is no transition: a stuck step handed back to the pipeline.
    assert set(ORDER_ACTIONS) - {action.name for action in by_transition.values()} == {"retry_step"}


@pytest.mark.parametrize("action", sorted({meaning(name).action for name in PEOPLE}))
def test_each_api_action_is_a_url_guarded_by_the_declared_permission(action):
    view = resolve(f"/api/orders/1/{action}").func.view_class
    assert view is API_VIEWS[action]
    assert view is OrderRefundApi if action == "refund" else issubclass(view, OrderActionApi)
    declared = {getattr(PEOPLE[n].permission, "action", PEOPLE[n].permission)
                for n in PEOPLE if meaning(n).action == action}
    if action == "cancel":  # the owner, or staff: the view asks store.permissions with the owner's id
        return
    guarded = {action for cls in view.permission_classes for action in getattr(cls, "guards", ())}
    assert declared <= guarded


@pytest.mark.parametrize("state", [s.value for s in OrderState])
def test_in_every_state_the_api_and_the_admin_offer_what_the_declaration_allows(
    state, order_in_state, staff_user, customer, jwt_client, client
):
    order = order_in_state(state)
    client.force_login(staff_user)
    declared_for_staff = {edge for edge in transitions_from(state) if edge.permission is not SYSTEM
                          and all(condition(order) for condition in edge.conditions)}
    declared_for_owner = {edge for edge in declared_for_staff if isinstance(edge.permission, OwnerOr)}

    staff_view = jwt_client(staff_user).get(f"/api/orders/{order.pk}").json()
    owner_view = jwt_client(customer).get(f"/api/orders/{order.pk}").json()
    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))

    assert staff_view["actions"] == sorted({meaning(edge.name).action for edge in declared_for_staff})
    assert owner_view["actions"] == sorted({meaning(edge.name).action for edge in declared_for_owner})
    buttons = {item["action"].transition for item in page.context["order_actions"]} - {""}
    assert buttons == {edge.name for edge in declared_for_staff if meaning(edge.name).button}


@pytest.mark.parametrize("state", [s.value for s in OrderState if s != OrderState.NEW])
def test_the_timeline_shows_what_the_last_transition_declares(state, order_in_state):
    order = order_in_state(state)
    last = path_to(state)[-1]
    stages = {stage.key: stage for stage in order_timeline(order=Order.objects.get(pk=order.pk))}
    for key, status in meaning(last).stages:
        assert stages[key].status == status, (last, key)
    assert order.events.last().event_type == meaning(last).event


def test_staff_do_not_decide_on_their_own_orders(order_in_state, staff_user, jwt_client):
    own = order_in_state("awaiting_approval", user=staff_user)
    assert jwt_client(staff_user).get(f"/api/orders/{own.pk}").json()["actions"] == ["cancel"]
    assert permissions.can(staff_user, permissions.ORDER_APPROVE)


@pytest.mark.parametrize("name", [name for name, edge in TRANSITIONS.items()
                                  if edge.target in TERMINAL_STATES | WAITING_STATES])
def test_every_ending_and_wait_declares_the_customers_next_step(name):
    step = meaning(name).next_step
    assert step is not None, f"{name} ends the order or makes it wait: what may the customer do then?"
    for variant in step.variants():
        assert variant.advice.endswith(".") and not variant.by_shop and not variant.after


def test_only_a_failed_payment_offers_another_card_and_only_an_undeliverable_address_a_new_address():
    def offering(option):
        return {(name, source) for name in TRANSITIONS if meaning(name).next_step
                for source in sources(name) for by_shop in (False, True)
                if option in meaning(name).next_step.resolve(by_shop=by_shop, source=source).options}

    assert {name for name, _ in offering(Option.ANOTHER_CARD)} == PAYMENT_FAILED_ENDINGS
    # Found by the carrier's check before the charge; a label failing after it does not say the address is wrong.
    assert offering(Option.CORRECT_ADDRESS) == {("address_undeliverable", "checking_address")}


def test_the_refund_of_a_failed_shipment_says_contact_the_shop_not_correct_the_address():
    step = meaning("refund").next_step
    after_label = step.resolve(by_shop=False, source="ship_failed")
    assert after_label.options == (Option.CONTACT_SHOP, Option.SHOP_AGAIN)
    assert "address" not in after_label.advice
    assert step.resolve(by_shop=True, source="ship_failed") == after_label
    assert step.resolve(by_shop=True, source="delivered").options == (Option.CONTACT_SHOP, Option.SHOP_AGAIN)


def test_a_cancellation_by_the_customer_says_shop_again_and_by_the_shop_contact_the_shop():
    step = meaning("cancel").next_step
    assert step.resolve(by_shop=False, source="new").options == (Option.SHOP_AGAIN,)
    assert step.resolve(by_shop=True, source="new").options == (Option.CONTACT_SHOP,)
    for name in ("reject", "rule_reject", "auto_reject"):
        assert meaning(name).next_step.resolve(by_shop=False, source="validated").options == (Option.CONTACT_SHOP,)
