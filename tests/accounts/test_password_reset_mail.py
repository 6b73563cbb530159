"""The password-reset page only queues an e-mail task with the address entered; the worker
decides whether an account has it, makes the link and sends it, trying a failed mail server again.

The broker is real: django-q2's ORM broker on the test database, or the session's qcluster.
"""
import ast
import logging
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule
from django_q.tasks import async_task

from accounts.models import User
from notifications.account_mail import PASSWORD_RESET_TASK
from tests.conftest import PASSWORD, wait_for
from workflows.models import OutboxTask

NEW_PASSWORD = "Brand-New-Passw0rd"
RESET_LINK = re.compile(r"(https?://[^/\s]+)(/accounts/password/reset/[^/\s]+/[^/\s]+/)")
MAIL_SERVER_DOWN = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                    "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": 1, "EMAIL_TIMEOUT": 1}  # nothing listens


@pytest.fixture
def orm_broker(settings, monkeypatch):
    """Tasks go to django-q2's ORM broker on the test database and wait there (no worker runs them)."""
    settings.PIPELINE_TASKS_SYNC = False
    monkeypatch.setattr(Conf, "ORM", "default")


def run_queued_tasks() -> None:
    """Run what the broker holds, as a worker would (django-q2's own task runner, in this process)."""
    for queued in OrmQ.objects.all():
        task = queued.task
        async_task(task["func"], *task["args"], sync=True)
        queued.delete()


def ask_for_reset(email: str):
    with CaptureQueriesContext(connection) as queries:
        response = Client().post("/accounts/password/reset/", {"email": email}, follow=True)
    return response, [query["sql"] for query in queries.captured_queries]


def page_text(response) -> str:
    """The page as the asker sees it, less the CSRF token every page carries afresh."""
    return re.sub(r'"X-CSRFToken": "\w+"', "", response.content.decode())


def set_new_password_from(message) -> Client:
    """Follow the e-mailed link in a browser, choose NEW_PASSWORD; the browser afterwards."""
    browser = Client()
    form_page = browser.get(RESET_LINK.search(message.body).group(2), follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = browser.post(form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD,
                                                          "new_password2": NEW_PASSWORD})
    assert (done.status_code, done["Location"]) == (302, "/accounts/password/reset/done/")
    return browser


def signs_in(email: str, password: str) -> bool:
    response = Client().post("/accounts/login/", {"username": email, "password": password})
    return response.status_code == 302


def test_the_reset_page_answers_alike_for_any_address_and_only_queues_the_address(
    orm_broker, settings, customer
):
    settings.STORE_PUBLIC_URL = "https://shop.example.com"
    known, known_queries = ask_for_reset("Customer@Example.com")
    unknown, unknown_queries = ask_for_reset("nobody@example.com")

    assert known.redirect_chain == unknown.redirect_chain == [("/accounts/password/reset/sent/", 302)]
    assert page_text(known) == page_text(unknown)
    # No query in the request touches an account: the same work, whoever asks.
    assert [sql for sql in known_queries + unknown_queries if User._meta.db_table in sql] == []
    assert [(task.func(), task.task["args"]) for task in OrmQ.objects.order_by("pk")] == [
        (PASSWORD_RESET_TASK, ("Customer@Example.com",)), (PASSWORD_RESET_TASK, ("nobody@example.com",))]
    assert mail.outbox == []

    run_queued_tasks()

    (message,) = mail.outbox  # one e-mail, to the account; none for the unknown address
    assert message.to == [customer.email]
    assert message.subject == "Reset your Workflow Store password"
    assert "Hello Casey Customer," in message.body
    assert RESET_LINK.search(message.body).group(1) == "https://shop.example.com"  # the public address
    set_new_password_from(message)
    assert signs_in(customer.email, NEW_PASSWORD)
    assert not signs_in(customer.email, PASSWORD)


def test_an_inactive_account_gets_no_reset_e_mail(orm_broker, make_user):
    make_user("gone@example.com", is_active=False)

    ask_for_reset("gone@example.com")
    run_queued_tasks()

    assert mail.outbox == []


def test_a_mail_server_that_is_down_is_tried_again_by_the_worker_then_given_up(
    orm_broker, settings, customer, caplog
):
    caplog.set_level(logging.INFO, logger="notifications.account_mail")
    for name, value in MAIL_SERVER_DOWN.items():
        setattr(settings, name, value)
    response, _ = ask_for_reset(customer.email)
    assert response.status_code == 200 and response.redirect_chain[-1][0] == "/accounts/password/reset/sent/"

    run_queued_tasks()  # the first try fails: no error page anywhere, a second try is scheduled

    (retry,) = Schedule.objects.filter(func=PASSWORD_RESET_TASK)
    assert (retry.func, ast.literal_eval(retry.args)) == (PASSWORD_RESET_TASK, (customer.email, 2))
    assert timezone.now() + timedelta(seconds=50) < retry.next_run <= timezone.now() + timedelta(seconds=61)
    assert caplog.records[-1].levelname == "WARNING"
    assert f"password reset e-mail to account {customer.pk} not sent" in caplog.records[-1].getMessage()
    assert "attempt 2 of 3 in 60 s" in caplog.records[-1].getMessage()

    # The mail server is back when the schedule is due: the worker runs the retry.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    async_task(retry.func, *ast.literal_eval(retry.args), sync=True)

    (message,) = mail.outbox
    assert message.to == [customer.email]
    set_new_password_from(message)
    assert signs_in(customer.email, NEW_PASSWORD)
    retry.delete()  # as django-q2's scheduler does with a one-off schedule once it queued it

    # A mail server that stays down: three tries in all, then an error in the log.
    settings.EMAIL_BACKEND = MAIL_SERVER_DOWN["EMAIL_BACKEND"]
    async_task(PASSWORD_RESET_TASK, customer.email, 3, sync=True)
    assert not Schedule.objects.filter(func=PASSWORD_RESET_TASK).exists()
    assert caplog.records[-1].levelname == "ERROR"
    assert "not sent after 3 attempts" in caplog.records[-1].getMessage()


def test_a_reset_asked_for_while_the_broker_is_down_waits_in_the_outbox(settings, monkeypatch, customer):
    settings.PIPELINE_TASKS_SYNC = False
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "DJANGO_REDIS", None)
    monkeypatch.setattr(Conf, "REDIS", "redis://127.0.0.1:1/0")  # nothing listens

    response, _ = ask_for_reset(customer.email)

    assert response.redirect_chain == [("/accounts/password/reset/sent/", 302)]
    assert list(OutboxTask.objects.values_list("func", "args")) == [(PASSWORD_RESET_TASK, [customer.email])]


def test_the_worker_cluster_sends_the_reset_link(qcluster, make_user):
    user = make_user(name="Wren Worker")

    Client().post("/accounts/password/reset/", {"email": user.email})

    # The cluster's e-mail backend is the console: the message is in its output.
    def message():
        output = qcluster.output()
        start = output.find(f"To: {user.email}")
        return start >= 0 and RESET_LINK.search(output, start)

    link = wait_for(message, message=f"the reset e-mail to {user.email} in the worker's output")
    browser = Client()
    form_page = browser.get(link.group(2), follow=True)
    browser.post(form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert signs_in(user.email, NEW_PASSWORD)
