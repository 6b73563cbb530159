"""Who may send a row, and whose outcome counts: the attempt holding the row's claim. An attempt
the worker kills still counts; a replay or a re-enabling during an attempt does not send the row
a second time at once; an attempt whose claim was taken over, or whose endpoint was deleted,
changes nothing."""
import logging
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.db.models.signals import post_save
from django.utils import timezone

from webhooks import services, transport
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


class Killed(BaseException):
    """What the worker's Q_TIMEOUT does to an attempt: it never returns."""


@pytest.fixture
def during_attempt(monkeypatch):
    """during_attempt(do) → while the next POST is under way, do() runs (once); then the POST goes."""
    real = transport.post

    def set_up(do):
        calls = []

        def post(url, body, headers):
            if not calls:  # not for a POST that do() makes itself
                calls.append(None)
                calls[0] = do()
            return real(url, body, headers)

        monkeypatch.setattr(transport, "post", post)
        return calls

    return set_up


def time_passes(delivery: WebhookDelivery) -> None:
    """The claim and the backoff have run out, as they would by waiting."""
    past = timezone.now() - timedelta(seconds=1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(claimed_until=past, next_attempt_at=past)


def test_an_attempt_is_counted_when_it_starts_so_a_killed_one_still_counts(db, receiver, endpoint, place_order,
                                                                           customer, monkeypatch, settings):
    settings.WEBHOOK_DISABLE_AFTER = 2
    hooks = endpoint("/hooks", ["order.created"])
    place_order(customer)
    delivery = WebhookDelivery.objects.get()
    real = transport.post

    def killed(*args):
        raise Killed

    monkeypatch.setattr(transport, "post", killed)
    with pytest.raises(Killed):
        services.delivery_send(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.first_attempt_at is not None
    assert services.delivery_send(delivery.pk) == ""  # still claimed

    time_passes(delivery)
    with pytest.raises(Killed):
        services.delivery_send(delivery.pk)  # the first one is counted as failed before the second goes

    time_passes(delivery)
    monkeypatch.setattr(transport, "post", real)
    assert services.delivery_send(delivery.pk) == ""  # two failures in a row: the endpoint is disabled

    hooks.refresh_from_db()
    assert (hooks.enabled, hooks.consecutive_failures) == (False, 2)
    assert list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number").values_list("number", "error")) == [
        (1, services.STOPPED), (2, services.STOPPED)]
    assert receiver.received == []


def test_a_killed_attempt_past_the_retry_window_gives_the_row_up(db, receiver, endpoint, place_order, customer,
                                                                 monkeypatch, settings):
    settings.WEBHOOK_RETRY_HOURS = 0
    endpoint("/hooks", ["order.created"])
    place_order(customer)
    delivery = WebhookDelivery.objects.get()
    monkeypatch.setattr(transport, "post", lambda *args: (_ for _ in ()).throw(Killed))
    with pytest.raises(Killed):
        services.delivery_send(delivery.pk)
    time_passes(delivery)

    assert services.delivery_send(delivery.pk) == "given_up"

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 1, services.STOPPED)


def test_the_dispatcher_leaves_a_row_under_way_alone_for_the_whole_attempt(db, receiver, endpoint, place_order,
                                                                            customer, during_attempt, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 5
    endpoint("/hooks", ["order.created"])
    place_order(customer)
    delivery = WebhookDelivery.objects.get()
    at_the_deadline = timezone.now() + timedelta(seconds=6)
    queued = during_attempt(lambda: services.deliveries_dispatch(now=at_the_deadline))

    assert services.delivery_send(delivery.pk) == "delivered"
    assert queued == [0]


def test_a_replay_during_an_attempt_does_not_send_the_row_twice_at_once(db, receiver, endpoint, place_order,
                                                                        customer, during_attempt, webhook_admin):
    endpoint("/hooks", ["order.created"])
    receiver.answers["/hooks"] = [500]
    place_order(customer)
    delivery = WebhookDelivery.objects.get()

    def replay_and_send():
        services.delivery_replay(delivery=delivery, actor=webhook_admin)
        return services.delivery_send(delivery.pk)  # the replay's task, while the first attempt is under way

    second = during_attempt(replay_and_send)

    assert services.delivery_send(delivery.pk) == "retrying"
    assert second == [""]
    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 500")


def test_enabling_again_during_an_attempt_does_not_send_the_row_twice_at_once(db, receiver, endpoint, place_order,
                                                                              customer, during_attempt,
                                                                              webhook_admin):
    hooks = endpoint("/hooks", ["order.created"])
    place_order(customer)
    delivery = WebhookDelivery.objects.get()

    def off_and_on():
        services.endpoint_update(endpoint=hooks, actor=webhook_admin, enabled=False)
        services.endpoint_update(endpoint=hooks, actor=webhook_admin, enabled=True)
        return services.delivery_send(delivery.pk)

    second = during_attempt(off_and_on)

    assert services.delivery_send(delivery.pk) == "delivered"
    assert second == [""]
    assert len(receiver.received) == 1


def test_an_attempt_whose_claim_was_taken_over_changes_nothing_but_its_log_line(db, receiver, endpoint, place_order,
                                                                                customer, during_attempt, caplog):
    endpoint("/hooks", ["order.created"])
    receiver.answers["/hooks"] = [200, 500]  # the attempt that took over answers first; the stale one gets 500
    place_order(customer)
    delivery = WebhookDelivery.objects.get()

    def taken_over():
        time_passes(delivery)  # the first attempt's claim ran out (its process stalled)
        return services.delivery_send(delivery.pk)

    second = during_attempt(taken_over)
    with caplog.at_level(logging.WARNING, logger="webhooks.services"):
        assert services.delivery_send(delivery.pk) == ""

    assert second == ["delivered"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 2, "")
    assert list(delivery.attempt_log.order_by("number").values_list("number", "status_code")) == [(1, 500), (2, 200)]
    assert "attempt 1 dropped" in caplog.text


def test_deleting_the_endpoint_during_an_attempt_drops_the_attempt(db, receiver, endpoint, place_order, customer,
                                                                   during_attempt, webhook_admin, caplog):
    hooks = endpoint("/hooks", ["order.created"])
    place_order(customer)
    delivery = WebhookDelivery.objects.get()
    during_attempt(lambda: services.endpoint_delete(endpoint=hooks, actor=webhook_admin))

    with caplog.at_level(logging.WARNING, logger="webhooks.services"):
        assert services.delivery_send(delivery.pk) == ""

    assert not WebhookEndpoint.objects.exists() and not WebhookAttempt.objects.exists()
    assert f"webhook delivery {delivery.pk}: attempt 1 dropped" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_two_senders_of_one_row_at_once_post_it_once(receiver, endpoint, place_order, customer, settings):
    """A row's task can run twice at once (queued when its event committed and again when the
    order's earlier row was delivered, or by the dispatcher). The second sender read the row
    before the first's claim committed; its claim waits for that commit and then takes nothing.
    On PostgreSQL it starts waiting on the row's lock before the first claim commits
    (pg_stat_activity shows it); SQLite serializes the two claims."""
    settings.PIPELINE_TASKS_SYNC = False  # the test sends the row itself, from two threads
    endpoint("/hooks", ["order.created"])
    place_order(customer)
    delivery = WebhookDelivery.objects.get()
    outcomes: dict[str, str] = {}

    def send(name: str) -> None:
        try:
            outcomes[name] = services.delivery_send(delivery.pk)
        finally:
            connections.close_all()

    second = threading.Thread(target=send, args=("second",))

    def waiting_on_a_lock() -> None:
        try:  # a connection of this thread's own: each query sees the activity afresh
            for _ in range(3000):
                with connection.cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND wait_event_type = 'Lock'")
                    if cursor.fetchone()[0]:
                        return
                threading.Event().wait(0.01)
        finally:
            connections.close_all()

    def second_sender_meanwhile(sender, instance, created, **kwargs) -> None:
        # In the first sender's claim (the attempt is logged in its transaction): the row is locked.
        if created and not second.is_alive() and "second" not in outcomes:
            second.start()
            if connection.vendor == "postgresql":
                watcher = threading.Thread(target=waiting_on_a_lock)
                watcher.start()
                watcher.join()

    post_save.connect(second_sender_meanwhile, sender=WebhookAttempt, weak=False)
    try:
        first = threading.Thread(target=send, args=("first",))
        first.start()
        first.join()
        second.join()
    finally:
        post_save.disconnect(second_sender_meanwhile, sender=WebhookAttempt)

    assert outcomes == {"first": "delivered", "second": ""}
    assert len(receiver.of("/hooks")) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert list(delivery.attempt_log.values_list("number", "status_code")) == [(1, 200)]
