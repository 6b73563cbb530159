"""The store's record of its calls to providers (providers.calls): one row per attempt, whatever
the answer, and never a failed call because the record could not be written."""
import logging

import pytest
from django.db import transaction

from providers.base import ChargeStatus, GatewayResult, GatewayTimeout
from providers.calls import ProviderRequest, call_recorded
from providers.models import ProviderCall
from store.request_context import request_id_var

pytestmark = pytest.mark.django_db

REQUEST = ProviderRequest("payment", "charge", "order-7-charge-0", 7, step="payment")


@pytest.fixture
def request_id():
    token = request_id_var.set("req-trace-1")
    yield "req-trace-1"
    request_id_var.reset(token)


@pytest.mark.parametrize(("answer", "outcome", "reason"), [
    (GatewayResult(ok=True, reference="txn_1"), "ok", ""),
    (GatewayResult(ok=False, reason="Card declined by the issuer"), "declined", "Card declined by the issuer"),
    (GatewayResult(ok=False, pending=True, reason="Waiting for the bank's confirmation"), "pending",
     "Waiting for the bank's confirmation"),
    (ChargeStatus("approved", reference="txn_1"), "ok", "charge approved"),
])
def test_each_answer_is_recorded_with_the_request_that_caused_it(request_id, answer, outcome, reason):
    assert call_recorded(REQUEST, lambda: answer, attempt=2) is answer

    call = ProviderCall.objects.get()
    assert (call.provider, call.operation, call.step, call.idempotency_key, call.order_id) == (
        "payment", "charge", "payment", "order-7-charge-0", 7)
    assert (call.attempt, call.outcome, call.reason, call.request_id) == (2, outcome, reason, request_id)
    assert call.latency_ms >= 0


@pytest.mark.parametrize(("error", "outcome", "reason"), [
    (GatewayTimeout("no answer within 30.0s"), "timeout", "no answer within 30.0s"),
    (ConnectionResetError("peer hung up"), "error", "ConnectionResetError: peer hung up"),
])
def test_a_call_that_raises_is_recorded_and_raises_again(error, outcome, reason):
    def fails():
        raise error

    with pytest.raises(type(error)):
        call_recorded(REQUEST, fails)

    assert list(ProviderCall.objects.values_list("outcome", "reason", "request_id")) == [(outcome, reason, "")]


def test_a_record_the_database_refuses_never_fails_the_call_nor_the_callers_transaction(caplog):
    caplog.set_level(logging.WARNING, logger="providers.calls")
    answer = GatewayResult(ok=True, reference="re_1")

    with transaction.atomic():
        # A negative attempt breaks the table's check constraint: the INSERT fails in the database.
        assert call_recorded(REQUEST, lambda: answer, attempt=-1) is answer
        call_recorded(REQUEST, lambda: answer)  # the transaction goes on

    assert list(ProviderCall.objects.values_list("attempt", flat=True)) == [1]
    assert [record.getMessage() for record in caplog.records] == [
        "provider call payment.charge order-7-charge-0 (ok) not recorded: IntegrityError"]
