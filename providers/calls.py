"""The store's record of its own calls to providers (ProviderCall), one row per attempt.

Whoever calls a provider (the pipeline's step runner, refunds, payment reconciliation, the
e-mail sender) makes the call through `call_recorded`, which times it on the wall clock, says
what came back (ok, declined, pending, timeout, error) and writes one row, with the id of
the request or task that caused it. Recording costs one INSERT and never fails the call: a
database error while writing it is logged and the answer goes back to the caller as it came.
"""
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.db import Error, connection, transaction

from providers.base import ChargeStatus, GatewayResult, GatewayTimeout, ParcelTracking
from providers.models import ProviderCall
from store import sandbox
from store.prepared import PreparedInsert
from store.request_context import request_id_var

logger = logging.getLogger("providers.calls")

Answer = TypeVar("Answer")
# Every provider call writes one: the INSERT is compiled once (store.prepared).
_INSERT = PreparedInsert(ProviderCall)
Outcome = ProviderCall.Outcome


@dataclass(frozen=True)
class ProviderRequest:
    """What the store asks: `operation` of the provider serving `provider` (its role), with
    idempotency `key`, for order `order_id` (None when it is for no order); `step`: the pipeline
    step that asks, "" elsewhere."""

    provider: str
    operation: str
    key: str
    order_id: int | None
    step: str = ""


def answer_outcome(answer: object) -> tuple[str, str]:
    """(outcome, reason) of a provider's answer: a GatewayResult is ok, pending or declined (with
    its reason, after its code and whether it is hard or soft when it has one: "stolen_card (hard
    decline): …"); a ChargeStatus is the provider answering, with what it says of the charge; a
    ParcelTracking the carrier's updates so far (declined: it has no such parcel)."""
    if isinstance(answer, GatewayResult):
        if answer.ok:
            return Outcome.OK, ""
        if answer.pending:
            return Outcome.PENDING, answer.reason
        return Outcome.DECLINED, f"{_coded(answer.code, answer.retryable)}: {answer.reason}" if answer.code else answer.reason
    if isinstance(answer, ChargeStatus):
        return Outcome.OK, (f"charge {answer.status}" + (f" ({_coded(answer.code, answer.retryable)})" if answer.code else "")
                            + (", refunded" if answer.refunded else ""))
    if isinstance(answer, ParcelTracking):
        if not answer.found:
            return Outcome.DECLINED, "no such parcel"
        return Outcome.OK, ", ".join(update.status for update in answer.updates) or "no tracking updates yet"
    return Outcome.OK, ""


def _coded(code: str, retryable: bool) -> str:
    return f"{code} ({'soft' if retryable else 'hard'} decline)"


def call_recorded(request: ProviderRequest, make: Callable[[], Answer], *, attempt: int = 1) -> Answer:
    """`make()`, the call described by `request`, recorded as attempt `attempt` of its key; its
    answer is returned and whatever it raises is raised again, after the row is written."""
    started = sandbox.clock()
    try:
        answer = make()
    except GatewayTimeout as exc:
        call_record(request, outcome=Outcome.TIMEOUT, reason=str(exc), started=started, attempt=attempt)
        raise
    except Exception as exc:
        call_record(request, outcome=Outcome.ERROR, reason=f"{exc.__class__.__name__}: {exc}", started=started,
                    attempt=attempt)
        raise
    outcome, reason = answer_outcome(answer)
    call_record(request, outcome=outcome, reason=reason, started=started, attempt=attempt)
    return answer


def call_record(request: ProviderRequest, *, outcome: str, reason: str, started: float, attempt: int = 1) -> None:
    """Write the row of a call that began at `started` (store.sandbox.clock()) and ended now. Inside a
    transaction it is a savepoint of its own, so a failed INSERT leaves the caller's work intact
    (and a call inside a transaction that rolls back is not kept either)."""
    row = dict(
        order_id=request.order_id, provider=request.provider, operation=request.operation, step=request.step,
        idempotency_key=request.key[:128], attempt=attempt, outcome=outcome, reason=reason[:200],
        latency_ms=round((sandbox.clock() - started) * 1000), request_id=request_id_var.get() or "",
    )
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                _INSERT.insert(**row)
        else:
            _INSERT.insert(**row)
    except Error as exc:  # DatabaseError, and InterfaceError for a connection that is gone
        logger.warning("provider call %s.%s %s (%s) not recorded: %s", request.provider, request.operation,
                       request.key, outcome, exc.__class__.__name__, extra={"order_id": request.order_id})
