"""Follow-up work of a committed change survives a broker outage, and e-mails leave from the worker.

The broker here is real: django-q2's Redis broker pointed at a port nothing listens on (down),
or its ORM broker on the test database (up).
"""
import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from notifications.models import Notification
from notifications.services import notifications_resend
from orders.models import Order
from workflows import outbox
from workflows.models import OutboxTask

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def broker_down(settings, monkeypatch):
    settings.PIPELINE_TASKS_SYNC = False
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "DJANGO_REDIS", None)
    monkeypatch.setattr(Conf, "REDIS", UNREACHABLE_REDIS)


@pytest.fixture
def orm_broker(settings, monkeypatch):
    """The broker is up: django-q2's ORM broker on the test database (also when REDIS_URL is set)."""
    settings.PIPELINE_TASKS_SYNC = False
    monkeypatch.setattr(Conf, "ORM", "default")


def queued_funcs() -> list[str]:
    return [task.func() for task in OrmQ.objects.all()]


def test_an_order_placed_while_the_broker_is_down_waits_in_the_outbox_and_runs_once_it_is_back(
    broker_down, settings, monkeypatch, customer, place_order, django_capture_on_commit_callbacks, caplog
):
    caplog.set_level(logging.WARNING, logger="workflows.outbox")
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(customer)

    (deferred,) = OutboxTask.objects.all()
    assert (deferred.func, deferred.args[0], deferred.task_name) == (
        "workflows.tasks.pipeline_run", order.pk, f"pipeline-order-{order.pk}")
    assert "ConnectionError" in deferred.error
    assert [record.getMessage().split(";")[0] for record in caplog.records] == [
        f"broker refused pipeline-order-{order.pk}"]
    # The "order received" notification committed with the order; its e-mail waits for the worker.
    received = Notification.objects.get(order=order, event_type="order.created")
    assert received.email_sent_at is None and mail.outbox == []

    assert outbox.outbox_relay() == 0  # still down: kept, and counted
    assert OutboxTask.objects.get().attempts == 2

    monkeypatch.setattr(Conf, "ORM", "default")  # back (the database's broker)
    settings.PIPELINE_TASKS_SYNC = True  # and run what is queued in-process
    assert outbox.outbox_relay() == 1

    assert not OutboxTask.objects.exists()
    order.refresh_from_db()
    assert order.state == "delivered"
    received.refresh_from_db()
    assert received.email_sent_at is not None
    assert [message.subject for message in mail.outbox][0] == f"Order {order.number} received"


def test_a_staff_cancel_answers_at_once_and_its_email_leaves_from_the_worker(
    orm_broker, staff_api, customer, place_order, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(customer)
    OrmQ.objects.all().delete()  # the pipeline run placement queued; not this test's subject

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.post(f"/api/orders/{order.pk}/cancel", {"note": "Out of season"}, format="json")

    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    cancelled = Notification.objects.get(order=order, event_type="order.cancelled")
    assert cancelled.email_sent_at is None and mail.outbox == []
    assert queued_funcs() == ["notifications.services.notification_send"]
    assert OrmQ.objects.get().task["args"] == (cancelled.pk,)


def test_a_staff_cancel_while_the_broker_is_down_is_answered_and_its_email_goes_out_later(
    broker_down, settings, monkeypatch, staff_api, customer, place_order, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(customer)
    OutboxTask.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.post(f"/api/orders/{order.pk}/cancel", {"note": "Out of season"}, format="json")

    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    assert list(OutboxTask.objects.values_list("func", flat=True)) == ["notifications.services.notification_send"]
    monkeypatch.setattr(Conf, "ORM", "default")
    settings.PIPELINE_TASKS_SYNC = True
    outbox.outbox_relay()
    assert [message.subject for message in mail.outbox] == [f"Order {order.number} cancelled"]


def test_an_email_the_mail_server_refused_is_sent_again_by_the_sweeper_a_few_times(
    settings, customer, place_order, django_capture_on_commit_callbacks
):
    settings.PIPELINE_TASKS_SYNC = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1  # nothing listens
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(customer)
    order.refresh_from_db()
    assert order.state == "delivered"  # a mail outage never holds up the order
    unsent = Notification.objects.filter(order=order, email_sent_at=None)
    assert unsent.count() == 4 and set(unsent.values_list("email_attempts", flat=True)) == {1}

    later = timezone.now() + timedelta(minutes=2)
    assert notifications_resend(now=later) == 0  # still down: a second try each
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notifications_resend(now=later) == 4
    assert sorted(message.subject for message in mail.outbox) == sorted(
        Notification.objects.filter(order=order).values_list("title", flat=True))
    assert notifications_resend(now=later) == 0  # sent once


def test_the_sweeper_gives_up_on_an_email_after_three_tries(settings, customer, place_order,
                                                            django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    order = place_order(customer)  # not committed: only "order received" is recorded
    later = timezone.now() + timedelta(minutes=2)
    for _ in range(4):
        notifications_resend(now=later)
    notification = Notification.objects.get(order=order)
    assert (notification.email_attempts, notification.email_sent_at) == (3, None)
    assert Order.objects.get(pk=order.pk).state == "new"


def test_the_relay_redrives_working_orders_once_the_broker_is_back_and_logs_the_outage_once(
    broker_down, monkeypatch, customer, place_order, caplog
):
    from django_q.brokers import get_broker

    from workflows.relay import Relay

    caplog.set_level(logging.WARNING, logger="workflows.relay")
    waiting = place_order(customer)  # its queued run died with the broker (nothing was queued here)
    done = place_order(customer)
    Order.objects.filter(pk=done.pk).update(state="delivered")
    relay = Relay(broker=get_broker())
    relay.tick()
    relay.tick()
    assert [record.getMessage() for record in caplog.records] == [
        "broker unreachable; tasks wait in the outbox until it is back"]

    monkeypatch.setattr(Conf, "ORM", "default")
    relay.broker = get_broker()  # the same broker, reachable again
    relay.tick()
    relay.tick()

    assert [task.task["args"] for task in OrmQ.objects.all()] == [(waiting.pk, None)]
    assert caplog.records[-1].getMessage() == "broker back; re-drove 1 order(s) in working states"


def run_at_once(n: int, action) -> list:
    """action() on n threads released together, each with its own database connection."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    barrier = threading.Barrier(n)
    # This thread's connection goes back to the pool first: on PostgreSQL the n threads need n of
    # its DB_POOL_MAX_SIZE connections, and one more held here would make one of them wait for it.
    connection.close()

    def go(_):
        barrier.wait()
        try:
            return action()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(go, range(n)))


def test_two_senders_at_once_send_an_email_once(transactional_db, customer, place_order):
    from notifications.services import notification_send

    order = place_order(customer)
    notification = Notification.objects.get(order=order, event_type="order.created")
    Notification.objects.filter(pk=notification.pk).update(email_sent_at=None, email_attempts=0)  # not sent yet
    mail.outbox.clear()

    sent = run_at_once(4, lambda: notification_send(notification.pk))

    assert sent.count(True) == 1
    assert [message.subject for message in mail.outbox] == [f"Order {order.number} received"]


def test_two_relays_at_once_queue_each_task_once(transactional_db, orm_broker):
    for n in range(20):
        OutboxTask.objects.create(func="workflows.tasks.pipeline_run", args=[10_000 + n, None],
                                  task_name=f"pipeline-order-{10_000 + n}")

    queued = run_at_once(2, outbox.outbox_relay)
    # A relay stops at a refusal (under load, a moment's contention of the database that is the
    # broker here) and leaves the row to its next round, as the worker's relay runs every
    # OUTBOX_RELAY_SECONDS: never lost, never queued twice.
    for _ in range(3):
        if not OutboxTask.objects.exists():
            break
        queued.append(outbox.outbox_relay())

    assert sum(queued) == 20
    assert sorted(task.task["args"][0] for task in OrmQ.objects.all()) == list(range(10_000, 10_020))
    assert not OutboxTask.objects.exists()


def test_a_task_one_relay_could_not_queue_is_queued_by_the_relay_racing_it(transactional_db, orm_broker,
                                                                           monkeypatch):
    """The first relay's queueing of its first task fails (a moment's failure of that process
    alone) while a second relay runs: the second queues every task, that one too, each once (in
    the same round, or its next when it met a refusal of its own)."""
    import threading

    from django.db import connection

    for n in range(3):
        OutboxTask.objects.create(func="workflows.tasks.pipeline_run", args=[10_000 + n, None],
                                  task_name=f"pipeline-order-{10_000 + n}")
    first_relay, queue = threading.current_thread(), outbox._queue
    second_queued = []

    def second_relay():
        try:
            second_queued.append(outbox.outbox_relay())
        finally:
            connection.close()

    second = threading.Thread(target=second_relay)

    def queue_failing_once_in_the_first_relay(*args):
        if threading.current_thread() is first_relay and second.ident is None:  # once, before it started
            second.start()
            # The second relay passes this task meanwhile, or waits for it: either, then this refusal.
            second.join(timeout=1)
            raise ConnectionError("Error 111 connecting to the broker")
        return queue(*args)

    monkeypatch.setattr(outbox, "_queue", queue_failing_once_in_the_first_relay)
    assert outbox.outbox_relay() == 0
    second.join()
    if OutboxTask.objects.exists():  # the second relay met a refusal of its own under load: its next round
        second_queued.append(outbox.outbox_relay())

    assert sum(second_queued) == 3
    assert sorted(task.task["args"][0] for task in OrmQ.objects.all()) == [10_000, 10_001, 10_002]
    assert not OutboxTask.objects.exists()


def test_an_email_task_queued_under_its_old_path_still_runs(sync_pipeline, customer, place_order, mailoutbox):
    """A task queued before notifications had their own app names workflows.notifications."""
    from django.utils.module_loading import import_string

    from notifications.models import Notification

    order = place_order(customer)
    notification = Notification.objects.filter(order=order, email_sent_at__isnull=True).first() or \
        Notification.objects.filter(order=order).first()
    Notification.objects.filter(pk=notification.pk).update(email_sent_at=None, email_claimed_until=None)
    sent_before = len(mailoutbox)

    assert import_string("workflows.notifications.notification_send")(notification.pk) is True
    assert len(mailoutbox) == sent_before + 1
