"""Dry runs of a draft: synthetic orders through the pipeline against the simulators, under the
draft and under the current version, in a sandbox that is rolled back. Committing for real
(transactional), so anything the sandbox let through would stay."""
import json
import logging
import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ, Schedule
from prometheus_client import REGISTRY

from catalog.models import Product, StockMovement
from notifications.models import Notification
from orders.models import Order, OrderEvent
from providers import breakers, simulation
from providers.models import CardToken, GatewayCall, ProviderCall, ProviderCircuit, SimulatedOutage
from store.logging import JsonFormatter, RequestContextFilter
from tests.conftest import wait_for
from tests.workflow_versions import version_publish_with
from webhooks.models import WebhookDelivery
from workflows import executor, outbox
from workflows.models import OutboxTask, WorkflowVersion
from workflows.policy.dryrun import SYNTHETIC_ORDERS, policy_dry_run
from workflows.policy.schema import merged
from workflows.policy.selectors import policy_current
from workflows.policy.services import version_draft_create

WRITES = (Order, OrderEvent, GatewayCall, ProviderCall, CardToken, Notification, StockMovement, WebhookDelivery,
          OutboxTask, OrmQ, Schedule, ProviderCircuit)


def counts() -> dict:
    return {model.__name__: model.objects.count() for model in (*WRITES, get_user_model())}


@pytest.fixture
def store(sync_pipeline, catalog, customer, place_order, mailoutbox):
    """A store with an order of its own, a closed payment circuit and the seed's stock."""
    place_order(customer)
    breakers.succeeded("payment")
    mailoutbox.clear()
    return mailoutbox


def test_a_dry_run_never_writes_an_order_a_charge_or_an_e_mail(store):
    draft = version_draft_create(actor=None, policy=merged(policy_current().data, {
        "steps": {"payment": {"attempts": 1}, "risk": {"enabled": False}}}))
    stock = dict(Product.objects.values_list("pk", "stock"))
    before = counts()

    figures = policy_dry_run(draft.policy)

    assert counts() == before
    assert store == []  # no e-mail
    assert dict(Product.objects.values_list("pk", "stock")) == stock
    assert breakers.circuit("payment", fresh=True).state == breakers.CLOSED
    assert not executor._bulkheads.get("payment") or executor._bulkheads["payment"][0] == 16
    # What it shows: per step, calls, outcomes and time, under the draft and the current version.
    n = len(SYNTHETIC_ORDERS)
    assert (figures["orders"], figures["currentVersion"]) == (n, 1)
    draft_risk, current_risk = figures["draft"]["steps"]["risk"], figures["current"]["steps"]["risk"]
    assert (draft_risk["calls"], current_risk["calls"]) == (0, n - 1)  # switched off in the draft; 00000 ends before
    # ZIP 00000: the carrier's address check refuses it under both versions, before any charge.
    for run in (figures["draft"], figures["current"]):
        assert run["steps"]["address"]["calls"] == n and run["steps"]["address"]["outcomes"]["declined"] == 1
        assert run["ended"]["failed"] >= 1
    draft_pay, current_pay = figures["draft"]["steps"]["payment"], figures["current"]["steps"]["payment"]
    assert draft_pay["outcomes"]["timeout"] == current_pay["outcomes"]["timeout"] == 1  # card 0119
    assert current_pay["outcomes"]["ok"] - draft_pay["outcomes"]["ok"] == 1  # its second attempt, the current's only
    assert figures["draft"]["ended"].get("stalled") == 1
    assert all(step["seconds"] >= 0 for step in figures["draft"]["steps"].values())


def test_the_worker_keeps_the_figures_on_the_draft(store, staff_api):
    draft = staff_api.post("/api/workflow/versions", {"steps": {"payment": {"attempts": 1}}}, format="json").json()

    response = staff_api.post(f"/api/workflow/versions/{draft['id']}/dry-run")  # run in-process (sync tasks)

    assert response.status_code == 202
    shown = staff_api.get(f"/api/workflow/versions/{draft['id']}").json()["dryRun"]
    assert shown["draft"]["steps"]["payment"]["calls"] < shown["current"]["steps"]["payment"]["calls"]
    assert shown["policy"] == WorkflowVersion.objects.get(pk=draft["id"]).policy


def test_a_published_version_is_not_dry_run_and_an_invalid_policy_is_refused(store, staff_api):
    published = version_publish_with({"holds.hours": 2})

    assert staff_api.post(f"/api/workflow/versions/{published.pk}/dry-run").status_code == 409
    with pytest.raises(ValidationError):
        policy_dry_run(merged(policy_current().data, {"steps": {"payment": {"attempts": 0}}}))


def test_the_admin_queues_a_dry_run_and_shows_its_figures(store, client, staff_user):
    client.force_login(staff_user)
    draft = version_draft_create(actor=None, policy=merged(policy_current().data,
                                                           {"steps": {"risk": {"enabled": False}}}))
    url = reverse("admin:workflows_workflowversion_change", args=[draft.pk])

    response = client.post(url, {"_dry_run": "1"}, follow=True)

    html = response.content.decode()
    assert "Dry run" in html and "This draft" in html and "Version 1" in html
    assert WorkflowVersion.objects.get(pk=draft.pk).dry_run["draft"]["steps"]["risk"]["calls"] == 0


RAN: list[int] = []


def record(n: int) -> None:
    """A task that notes it ran."""
    RAN.append(n)


def test_inside_the_sandbox_no_task_is_queued(db, settings):
    settings.PIPELINE_TASKS_SYNC = True  # a queued task runs at once, here
    RAN.clear()

    with outbox.tasks_dropped():
        assert outbox.enqueue("tests.workflows.test_dry_run.record", 1) is True
    assert RAN == []
    outbox.enqueue("tests.workflows.test_dry_run.record", 2)
    assert RAN == [2]


@pytest.mark.worker
def test_the_worker_cluster_runs_a_queued_dry_run(qcluster, catalog, staff_api):
    draft = staff_api.post("/api/workflow/versions", {"steps": {"risk": {"enabled": False}}}, format="json").json()
    before = counts()

    assert staff_api.post(f"/api/workflow/versions/{draft['id']}/dry-run").status_code == 202

    shown = wait_for(lambda: staff_api.get(f"/api/workflow/versions/{draft['id']}").json()["dryRun"], timeout=60,
                     message="the cluster's dry run")
    assert (shown["draft"]["steps"]["risk"]["calls"], shown["current"]["steps"]["risk"]["calls"]) == (
        0, len(SYNTHETIC_ORDERS) - 1)  # ZIP 00000 ends at the address check, before the risk score
    # The broker's row of the dry-run task itself goes once the cluster acknowledged it.
    wait_for(lambda: counts() == before, timeout=10, message=f"nothing written but the figures: {counts()} {before}")


# --- The sandbox leaves nothing behind, and holds nothing up ----------------------------------


def metric_samples() -> dict:
    """The pipeline's and the providers' counted samples, as /metrics would show them."""
    names = ("store_gateway_calls", "store_step_attempts", "store_step_duration_seconds", "store_order_transitions",
             "store_orders_created")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in REGISTRY.collect() if family.name in names for sample in family.samples}


def test_a_dry_run_counts_no_metric_the_alerts_read(store, customer, place_order):
    before = metric_samples()

    figures = policy_dry_run(policy_current().data)

    assert figures["draft"]["steps"]["payment"]["outcomes"]["timeout"] == 1  # it did call, and time out
    assert metric_samples() == before
    place_order(customer)  # a real order is counted
    assert metric_samples()[("store_step_attempts_total", (("outcome", "ok"), ("step", "payment")))] > before.get(
        ("store_step_attempts_total", (("outcome", "ok"), ("step", "payment"))), 0)


def test_during_a_provider_outage_a_dry_run_waits_nothing_and_real_writes_go_through(store):
    """Each synthetic order's transaction holds SQLite's write lock: it must never last through
    the policy's timeouts (3 attempts of 30 s here, past the 30 s busy timeout)."""
    SimulatedOutage.objects.create(provider="payment", until=timezone.now() + timedelta(minutes=10), mode="timeout")
    simulation.outages_forget()
    started, ran = threading.Barrier(2), {}

    def dry_run() -> None:
        try:
            started.wait()
            began = time.monotonic()
            ran["figures"] = policy_dry_run(policy_current().data)
            ran["seconds"] = time.monotonic() - began
        finally:
            connection.close()

    thread = threading.Thread(target=dry_run)
    thread.start()
    try:
        started.wait()
        for _ in range(20):  # real writes, each its own transaction, while the dry run runs
            with transaction.atomic():
                Product.objects.filter(pk=Product.objects.order_by("pk").values_list("pk", flat=True)[0]).update(
                    stock=F("stock"))
        thread.join()
    finally:
        simulation.outages_forget()

    payment = ran["figures"]["draft"]["steps"]["payment"]
    calls = payment["outcomes"]["timeout"]
    assert calls == payment["calls"] >= len(SYNTHETIC_ORDERS) - 1  # each order but ZIP 00000 reaches the charge
    assert calls * 30.0 <= payment["seconds"] < calls * 31.0  # the policy's timeouts, counted, not slept
    assert ran["seconds"] < 30  # generous: slept, the timeouts alone would take calls × 30 s


def test_a_registered_account_cannot_stand_in_the_sandboxs_way(store, api_client):
    registered = api_client.post("/api/auth/register", {"email": "dry-run@sandbox.invalid", "name": "Mallory",
                                                        "password": "Correct-Horse-9!x"}, format="json")
    users = get_user_model().objects.count()

    first, second = policy_dry_run(policy_current().data), policy_dry_run(policy_current().data)

    assert registered.status_code == 201
    assert "error" not in first and first["draft"]["ended"] == second["draft"]["ended"]
    assert sum(first["draft"]["ended"].values()) == len(SYNTHETIC_ORDERS)
    assert get_user_model().objects.count() == users  # the synthetic customers went with their orders
    assert get_user_model().objects.get(email="dry-run@sandbox.invalid").name == "Mallory"


def test_a_dry_runs_log_lines_say_so(store, caplog):
    """A rolled-back order's id is given again to a real order: a line must not pass for its."""
    caplog.handler.addFilter(RequestContextFilter())
    with caplog.at_level(logging.INFO, logger="orders.transitions"):
        policy_dry_run(policy_current().data)
        lines = [record for record in caplog.records if record.name == "orders.transitions"]
        caplog.clear()
        logging.getLogger("orders.transitions").info("order %s paid", 1)

    assert lines and all(record.getMessage().startswith("[dry run] order ") for record in lines)
    assert all(json.loads(JsonFormatter().format(record))["dry_run"] is True for record in lines)
    assert caplog.records[0].getMessage() == "order 1 paid"  # outside the sandbox, as ever
