"""A pipeline run that loses the database goes again within seconds, not after the sweeper's minutes.

The failure comes through Django's own instrumentation hook (`connection.execute_wrapper`): the
order's first transition is refused with the error the store's SQLite writer lock raises when
it cannot write ("database is locked"), as a restart or a locked file would refuse it.
"""
import logging

import pytest
from django.db import OperationalError, connection
from prometheus_client import REGISTRY

from orders.models import Order
from providers.models import GatewayCall

pytestmark = pytest.mark.usefixtures("sync_pipeline")


class RefuseOrderWrites:
    """Refuses the first `times` writes to the orders table, then lets everything through."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.refused = 0

    def __call__(self, execute, sql, params, many, context):
        if self.refused < self.times and sql.lstrip().upper().startswith("UPDATE") and '"orders_order"' in sql:
            self.refused += 1
            raise OperationalError("database is locked (no writer lock within the timeout)")
        return execute(sql, params, many, context)


def pipeline_retries() -> float:
    return REGISTRY.get_sample_value("store_database_unavailable_total", {"surface": "pipeline"}) or 0.0


def test_a_run_that_loses_the_database_goes_again_and_the_order_is_delivered_charged_once(
    settings, customer, place_order, caplog
):
    settings.PIPELINE = {**settings.PIPELINE, "CONNECTION_RETRY": (8, 0.0, 0.0)}
    caplog.set_level(logging.WARNING, logger="workflows.executor")
    before = pipeline_retries()
    refuse = RefuseOrderWrites(times=2)

    with connection.execute_wrapper(refuse):
        order = place_order(customer, {"prod-001": 1})

    order = Order.objects.get(pk=order.pk)
    assert refuse.refused == 2
    assert order.state == "delivered"
    assert GatewayCall.objects.filter(order_id=order.pk, gateway="payment", operation="charge", outcome="ok").count() == 1
    assert pipeline_retries() - before == 2
    warnings = [record.getMessage() for record in caplog.records if record.name == "workflows.executor"]
    assert len(warnings) == 2
    assert "could not reach the database or the broker" in warnings[0] and "(1 of 8)" in warnings[0]


def test_a_run_gives_up_after_its_tries_and_leaves_the_order_where_it_was(settings, customer, place_order, caplog):
    settings.PIPELINE = {**settings.PIPELINE, "CONNECTION_RETRY": (2, 0.0, 0.0)}
    refuse = RefuseOrderWrites(times=100)

    with connection.execute_wrapper(refuse):
        order = place_order(customer, {"prod-001": 1})

    assert refuse.refused == 3  # the first try and two more
    assert Order.objects.get(pk=order.pk).state == "new"  # the sweeper's, now


def test_an_error_that_is_not_an_outage_is_not_tried_again(settings, customer, place_order):
    settings.PIPELINE = {**settings.PIPELINE, "CONNECTION_RETRY": (8, 0.0, 0.0)}
    refused = []

    def broken_sql(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("UPDATE") and '"orders_order"' in sql:
            refused.append(sql)
            raise OperationalError("no such column: bogus")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(broken_sql):
        order = place_order(customer, {"prod-001": 1})

    assert len(refused) == 1
    assert Order.objects.get(pk=order.pk).state == "new"
