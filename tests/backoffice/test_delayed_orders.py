"""Providers in the admin: the circuits on the home page (closed by hand), the Delayed list with
its bulk re-drive, and the pipeline's waits on the order's trace."""
import re

import pytest
from auditlog.models import LogEntry as AuditEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from orders.models import Order, OrderEvent
from orders.services import order_transition
from orders.services.transitions import order_waiting_record
from providers import breakers
from providers.models import ProviderCircuit
from providers.steps import steps
from tests.backoffice.test_order_actions import bulk, page_of, texts
from tests.workflow_versions import version_publish_with

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def circuit_opens_after_two():
    version_publish_with({f"steps.{step}.circuit.failures": 2 for step in steps()})


def open_circuit(provider: str) -> None:
    for _ in range(2):
        breakers.failed(provider, "timeout")


def stalled_in(order_in, state: str, provider: str) -> Order:
    """An order whose `provider` step spent its calls on timeouts in `state`."""
    order = order_in(state)
    return order_transition(order_id=order.pk, name="provider_unavailable", only_from=state, reason="timeout",
                            detail={"step": provider, "attempts": 3})


def circuit_row(html: str, provider: str) -> str:
    match = re.search(rf'<tr[^>]*data-provider="{provider}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, provider
    return match.group(0)


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def viewer_client(make_user) -> Client:
    viewer = make_user("viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="orders", codename="view_order"))
    client = Client()
    client.force_login(viewer)
    return client


# --- the circuits on the home page -------------------------------------------------------------

def test_the_home_page_shows_each_circuit_red_with_a_close_button_when_not_closed(clerk_client):
    open_circuit("payment")
    open_circuit("shipping")
    ProviderCircuit.objects.filter(provider="shipping").update(opened_until=breakers.timezone.now())
    until = breakers.circuit("payment", fresh=True).opened_until

    html = clerk_client.get("/admin/").content.decode()

    payment, shipping, inventory = (circuit_row(html, name) for name in ("payment", "shipping", "inventory"))
    local = breakers.timezone.localtime(until)
    assert f"open until {local:%H:%M:%S} (last failure: timeout)" in text(payment)
    assert 'class="store-circuits__open"' in payment and "Close circuit" in payment
    assert "half-open" in text(shipping) and 'class="store-circuits__half_open"' in shipping
    assert "Close circuit" in shipping
    assert "closed" in text(inventory) and "Close circuit" not in inventory
    assert 'name="csrfmiddlewaretoken"' in payment


def test_staff_who_may_only_look_see_the_circuits_without_a_button(make_user):
    open_circuit("payment")

    html = viewer_client(make_user).get("/admin/").content.decode()

    assert "open until" in text(circuit_row(html, "payment"))
    assert "Close circuit" not in html


def test_closing_a_circuit_by_hand_closes_it_wakes_the_waiting_orders_and_is_audited(
        clerk_client, shop_staff, order_in, monkeypatch):
    open_circuit("payment")
    waiting = order_in("paying")
    order_waiting_record(order=waiting, reason="payment provider unavailable (circuit open)",
                         detail={"provider": "payment"})
    paying = order_in("paying")  # in the step, its run not yet told of the open circuit
    order_in("shipping")  # another provider's step: left alone
    woken = []
    monkeypatch.setattr("orders.services.circuits.order_ready_on_commit", woken.append)

    response = clerk_client.post(reverse("admin:orders_circuit_close", args=["payment"]), follow=True)

    assert response.redirect_chain == [(reverse("admin:index"), 302)]
    assert texts(response) == ["The payment circuit is closed: calls go to the payment provider again, "
                               "and 2 orders in the payment step went back to the pipeline."]
    assert breakers.circuit("payment", fresh=True).state == breakers.CLOSED
    assert sorted(woken) == sorted([waiting.pk, paying.pk])
    entry = AuditEntry.objects.get(additional_data__action="circuit_close")
    assert entry.actor == shop_staff and entry.changes_dict == {"state": ["open", "closed"]}


def test_closing_a_closed_circuit_changes_nothing(clerk_client):
    response = clerk_client.post(reverse("admin:orders_circuit_close", args=["risk"]), follow=True)

    assert texts(response) == ["The risk circuit was already closed; nothing changed."]


def test_closing_a_circuit_needs_post_the_permission_a_known_provider_and_the_csrf_token(
        clerk_client, make_user, shop_staff):
    open_circuit("payment")
    url = reverse("admin:orders_circuit_close", args=["payment"])

    assert clerk_client.get(url).status_code == 405
    assert clerk_client.post(reverse("admin:orders_circuit_close", args=["fax"])).status_code == 404
    assert viewer_client(make_user).post(url).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(shop_staff)
    assert strict.post(url).status_code == 403
    assert breakers.circuit("payment", fresh=True).state == breakers.OPEN


# --- the Delayed list ---------------------------------------------------------------------------

def test_the_home_page_links_the_delayed_list_with_its_count(clerk_client, order_in):
    stalled_in(order_in, "paying", "payment")
    stalled_in(order_in, "shipping", "shipping")
    order_in("paid")

    html = clerk_client.get("/admin/").content.decode()
    delayed_list = clerk_client.get(reverse("admin:orders_order_changelist") + "?state__exact=stalled")

    link = re.search(r'data-metric="delayed">\s*<a href="([^"]+)">(.*?)</a>', html, re.S)
    assert link.group(2) == "2 orders delayed by a provider: re-drive"
    assert link.group(1).replace("&amp;", "&") == reverse("admin:orders_order_changelist") + "?state__exact=stalled"
    assert delayed_list.status_code == 200
    assert {order.state for order in delayed_list.context["cl"].result_list} == {"stalled"}
    assert delayed_list.context["cl"].result_count == 2


def test_a_stalled_in_paying_order_offers_re_drive_payment(clerk_client, order_in):
    order = stalled_in(order_in, "paying", "payment")

    buttons = clerk_client.get(page_of(order)).context["order_actions"]

    assert [button["action"].label for button in buttons] == ["Re-drive payment", "Cancel order"]


def test_bulk_re_drive_sends_each_order_back_to_its_step_and_counts_the_refused(clerk_client, shop_staff, order_in,
                                                                                monkeypatch):
    monkeypatch.setattr("orders.services.transitions.order_ready_on_commit", lambda order_id: None)
    paying = stalled_in(order_in, "paying", "payment")
    shipping = stalled_in(order_in, "shipping", "shipping")
    paid = order_in("paid")

    response = bulk(clerk_client, "redrive_selected", [paying, shipping, paid])

    assert Order.objects.get(pk=paying.pk).state == "paying"
    assert Order.objects.get(pk=shipping.pk).state == "shipping"
    assert texts(response) == [f"2 orders re-driven: {paying.number}, {shipping.number}.",
                               f"1 order refused: Order {paid.number} is paid: it cannot be re-driven now."]
    events = OrderEvent.objects.filter(transition__in=["redrive_payment", "redrive_shipping"])
    assert sorted(events.values_list("transition", "actor")) == [("redrive_payment", shop_staff.pk),
                                                                 ("redrive_shipping", shop_staff.pk)]


def test_bulk_re_drive_while_the_circuit_is_open_says_the_orders_wait(clerk_client, order_in, monkeypatch):
    monkeypatch.setattr("orders.services.transitions.order_ready_on_commit", lambda order_id: None)
    orders = [stalled_in(order_in, "paying", "payment"), stalled_in(order_in, "paying", "payment")]
    open_circuit("payment")

    response = bulk(clerk_client, "redrive_selected", orders)

    assert [Order.objects.get(pk=order.pk).state for order in orders] == ["paying", "paying"]
    assert texts(response)[1] == ("The payment provider's circuit is open: 2 orders wait in their step and go on "
                                  "by themselves once it closes.")


def test_bulk_re_drive_is_offered_to_staff_who_may_change_orders_only(clerk_client, make_user):
    clerk = clerk_client.get(reverse("admin:orders_order_changelist")).context["action_form"].fields["action"]
    viewer = viewer_client(make_user).get(reverse("admin:orders_order_changelist")).context["action_form"]

    assert ("redrive_selected", "Re-drive selected orders") in clerk.choices
    assert viewer is None


# --- the trace -----------------------------------------------------------------------------------

def test_the_trace_shows_a_wait_for_a_provider_readably(clerk_client, order_in):
    order = order_in("paying")
    order_waiting_record(order=order, reason="payment provider unavailable (circuit open)",
                         detail={"provider": "payment"})

    html = clerk_client.get(page_of(order)).content.decode()

    row = re.findall(r"<tr[^>]*>(?:(?!</tr>).)*Waiting(?:(?!</tr>).)*</tr>", html, re.S)
    assert row, "no waiting row"
    cells = [text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row[-1], re.S)]
    assert "Waiting: payment provider unavailable (circuit open)" in cells
