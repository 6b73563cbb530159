"""The simulators' ledger of answers: a key answered twice keeps the first answer, in a
transaction or not, and the duplicate leaves the connection and the caller's work usable."""
import pytest
from django.db import transaction

from providers.base import GatewayResult
from providers.models import GatewayCall
from providers.simulation import answer_record


@pytest.mark.django_db(transaction=True)
def test_a_second_answer_outside_a_transaction_returns_the_first():
    first = answer_record("payment", "charge", "order-1-charge-0", None, GatewayResult(ok=True, reference="txn_first"))
    second = answer_record("payment", "charge", "order-1-charge-0", None, GatewayResult(ok=True, reference="txn_second"))

    assert (first.reference, second.reference) == ("txn_first", "txn_first")
    assert list(GatewayCall.objects.values_list("result__reference", flat=True)) == ["txn_first"]


@pytest.mark.django_db(transaction=True)
def test_a_second_answer_inside_a_transaction_keeps_the_callers_work():
    answer_record("payment", "charge", "order-1-charge-0", None, GatewayResult(ok=True, reference="txn_first"))
    with transaction.atomic():
        answer_record("shipping", "label", "order-1-label-0", None, GatewayResult(ok=True, reference="1Z1"))
        second = answer_record("payment", "charge", "order-1-charge-0", None,
                               GatewayResult(ok=True, reference="txn_second"))

    assert second.reference == "txn_first"
    assert sorted(GatewayCall.objects.values_list("result__reference", flat=True)) == ["1Z1", "txn_first"]
