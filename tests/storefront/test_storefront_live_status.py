"""The order page's live part over the Django client: "changed since?" polls (204 while nothing
changed), the poll's back-off per state as rendered, stage times, and the delivery time that
replaces the estimate; and the sign-in redirect of an HTMX request whose session ended."""
import re
from html import unescape

import pytest
from django.urls import reverse

from orders.models import Order
from orders.services.transitions import order_waiting_record
from tests.conftest import CARD_APPROVE
from tests.order_states import order_move

HTMX = {"HX-Request": "true"}


@pytest.fixture
def web(client, customer):
    client.force_login(customer)
    return client


def status(client, order, since: str | None = None):
    query = {"since": since} if since is not None else {}
    return client.get(reverse("orders:order_status", args=[order.pk]), query, headers=HTMX)


def poll(html: str) -> dict[str, str]:
    """The polling attributes of the rendered #order-status, {} when it does not poll."""
    section = re.search(r'<section id="order-status"[^>]*>', html).group(0)
    return {name: unescape(value) for name, value in re.findall(r'(hx-get|hx-trigger|data-poll-backoff)="([^"]*)"',
                                                                  section)}


def since_of(html: str) -> str:
    return re.search(r"\?since=([^\"&]+)", poll(html)["hx-get"]).group(1)


# --- "changed since?" ----------------------------------------------------------------------------

def test_a_poll_of_an_unchanged_order_answers_204_and_nothing_else(web, customer, place_order):
    order = place_order(customer)
    version = since_of(web.get(reverse("orders:order_detail", args=[order.pk])).content.decode())

    response = status(web, order, since=version)

    assert response.status_code == 204
    assert response.content == b""
    assert status(web, order, since=version).status_code == 204  # and again


def test_a_poll_after_a_change_gets_the_fragment_with_the_new_version(web, customer, place_order):
    order = place_order(customer)
    version = since_of(status(web, order).content.decode())

    order_move(order, "validated")
    response = status(web, order, since=version)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Validated" in html
    new_version = since_of(html)
    assert new_version != version and new_version.replace("-", "").isascii()
    assert status(web, order, since=new_version).status_code == 204


def test_an_event_that_leaves_the_state_alone_is_a_change_too(web, customer, place_order):
    order = order_move(place_order(customer), "paying")
    version = since_of(status(web, order).content.decode())

    order_waiting_record(order=order, reason="payment provider unavailable (circuit open)",
                         detail={"provider": "payment"})

    response = status(web, order, since=version)
    assert response.status_code == 200
    assert "Waiting for the payment provider to answer" in response.content.decode()


def test_a_stale_or_made_up_version_gets_the_fragment(web, customer, place_order):
    order = place_order(customer)
    for since in ("", "0-0", "nonsense"):
        assert status(web, order, since=since).status_code == 200


def test_asking_about_another_customers_order_is_a_404_whatever_the_version(client, customer, other_customer,
                                                                           place_order):
    theirs = place_order(other_customer)
    client.force_login(other_customer)
    version = since_of(status(client, theirs).content.decode())
    client.force_login(customer)

    assert status(client, theirs, since=version).status_code == 404
    assert status(client, theirs).status_code == 404


def test_a_terminal_order_answers_286_and_stops_polling(web, customer, place_order):
    order = place_order(customer)
    version = since_of(status(web, order).content.decode())
    order_move(order, "cancelled")

    response = status(web, order, since=version)

    assert response.status_code == 286
    assert poll(response.content.decode()) == {}


# --- the poll's pace per state ----------------------------------------------------------------

@pytest.mark.parametrize(("state", "backoff"), [
    ("new", "1"),
    ("validating", "1"),
    ("paying", "1"),
    ("shipped", "1"),
    ("awaiting_approval", "1 2 5 15"),
    ("stalled", "1 2 5 15"),
])
def test_the_poll_backs_off_only_for_orders_that_wait_on_someone(web, order_in_state, state, backoff):
    order = order_in_state(state)

    for response in (web.get(reverse("orders:order_detail", args=[order.pk])), status(web, order)):
        rendered = poll(response.content.decode())
        assert rendered["hx-trigger"] == "every 1s"
        assert rendered["data-poll-backoff"] == backoff


def test_an_order_waiting_for_a_provider_backs_off_and_is_fast_again_once_it_moves(web, customer, place_order):
    from orders.services import order_transition

    order = order_move(place_order(customer), "paying")
    order_waiting_record(order=order, reason="payment provider unavailable (circuit open)",
                         detail={"provider": "payment"})
    assert poll(status(web, order).content.decode())["data-poll-backoff"] == "1 2 5 15"

    order_transition(order_id=order.pk, name="payment_approved", transaction_id="txn_1", card_last4="4242")
    assert poll(status(web, order).content.decode())["data-poll-backoff"] == "1"


@pytest.mark.parametrize("state", ["delivered", "cancelled", "failed", "refunded"])
def test_a_finished_order_is_not_polled_at_all(web, order_in_state, state):
    order = order_in_state(state)
    html = web.get(reverse("orders:order_detail", args=[order.pk])).content.decode()
    assert poll(html) == {}
    assert "hx-get=\"/orders/" not in html


# --- stage times, delivery --------------------------------------------------------------------

def stage_times(html: str) -> dict[str, str | None]:
    """Each timeline stage's key → the datetime attribute of its <time>, or None."""
    shown = {}
    for key, body in re.findall(r'data-stage="(\w+)"(.*?)</li>', html, flags=re.S):
        found = re.search(r'<time datetime="([^"]+)"', body)
        shown[key] = found.group(1) if found else None
    return shown


def test_every_reached_stage_shows_when_it_was_reached(web, customer, order_in_state):
    order = order_in_state("shipped")
    html = web.get(reverse("orders:order_detail", args=[order.pk])).content.decode()

    times = stage_times(html)
    events = {event.transition: event.created_at for event in order.events.all()}
    assert times["created"] == order.created_at.isoformat()
    assert times["inventory"] == events["validation_passed"].isoformat()
    assert times["payment"] == events["payment_approved"].isoformat()
    assert times["shipping"] == events["shipping_confirmed"].isoformat()
    assert times["delivered"] is None  # not reached yet


def test_before_delivery_the_estimate_is_shown(web, order_in_state):
    order = order_in_state("shipped")
    html = web.get(reverse("orders:order_detail", args=[order.pk])).content.decode()

    assert re.search(r"<dt>Estimated delivery</dt><dd><time datetime=\"2030-01-03\">Thursday, January 3, 2030</time>",
                     html)
    assert "<dt>Delivered</dt>" not in html


def test_once_delivered_the_delivery_time_replaces_the_estimate(web, order_in_state):
    order = order_in_state("delivered")
    delivered = order.events.get(transition="deliver_order").created_at
    html = web.get(reverse("orders:order_detail", args=[order.pk])).content.decode()

    assert "Estimated delivery" not in html and "Estimated Jan" not in html
    assert f'<dt>Delivered</dt><dd><time datetime="{delivered.isoformat()}">' in html
    assert stage_times(html)["delivered"] == delivered.isoformat()


def test_a_delivered_order_through_the_pipeline_shows_each_stage_time(web, sync_pipeline, customer, place_order):
    order = Order.objects.get(pk=place_order(customer, card=CARD_APPROVE).pk)
    html = web.get(reverse("orders:order_detail", args=[order.pk])).content.decode()

    times = stage_times(html)
    assert times and all(times.values()), times
    assert list(times.values()) == sorted(times.values())  # in the order they happened


# --- a session that ended -----------------------------------------------------------------------

def test_a_signed_out_poll_is_sent_to_sign_in_with_the_page_as_next(client, customer, place_order):
    order = place_order(customer)

    response = client.get(reverse("orders:order_status", args=[order.pk]), {"since": "1-1"},
                          headers={**HTMX, "HX-Current-URL": f"http://testserver/orders/{order.pk}/?tab=1"})

    assert response.status_code == 200 and response.content == b""
    assert response["HX-Redirect"] == f"/accounts/login/?next=%2Forders%2F{order.pk}%2F%3Ftab%3D1"


def test_a_signed_out_htmx_post_is_sent_to_sign_in_too(client, customer, place_order):
    order = place_order(customer)

    response = client.post(reverse("orders:order_cancel", args=[order.pk]),
                           headers={**HTMX, "HX-Current-URL": f"http://testserver/orders/{order.pk}/"})

    assert response["HX-Redirect"] == f"/accounts/login/?next=%2Forders%2F{order.pk}%2F"
    assert Order.objects.get(pk=order.pk).state == "new"


@pytest.mark.parametrize("current", ["https://evil.example/orders/1/", "//evil.example/", "javascript:alert(1)",
                                     "http://testserver//evil.example/", "http://testserver/\\\\evil.example/", None])
def test_only_a_page_of_this_site_is_the_next_page(client, customer, place_order, current):
    order = place_order(customer)
    headers = {**HTMX, **({"HX-Current-URL": current} if current else {})}

    response = client.get(reverse("orders:order_status", args=[order.pk]), headers=headers)

    assert response["HX-Redirect"] == "/accounts/login/?next=%2F"
