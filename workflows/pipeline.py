"""The fulfilment pipeline's wiring, declared in one table.

`PIPELINE` maps each state the pipeline works on to what happens there: fire a transition
(after telling the customer the order was received, for a new one),
run a step (gateway call with step-level retries, then a success or failure transition),
ask the review rules, retry a failed state a limited number of times then compensate, or
wait for the carrier's tracking updates (asking it when it stays silent). `pipeline_advance`
follows the table from the order's current state until the order waits (for a person, a
provider, a delay or nothing: terminal). The table is the pipeline's structure; its policy
(attempts, timeouts, backoff, retries, which optional steps run, how long to wait for the
carrier…) is the order's workflow version (workflows.policy), to which the table declares its
steps (`pipeline_structure`).

Each transition commits on its own, so the database, not the queue, records progress; a
step that finds the order no longer in its state does nothing; gateway calls carry keys
derived from the order and its retry counters (each step's `key`), so running a step twice
never charges, ships or refunds twice.
"""
import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from notifications.services import notification_send_pending
from orders.models import Order
from orders.selectors import orders_waiting_on
from orders.services import order_transition, refund_create
from orders.services.address import address_check_key, order_address
from orders.services.tracking import UNREACHABLE, tracking_reconcile
from orders.services.transitions import order_locked, order_step_failed, order_waiting_record
from orders.states import Actor, OrderState
from providers import breakers, registry
from providers.base import GatewayResult, InventoryProvider, PaymentProvider, ShippingProvider
from providers.calls import ProviderRequest
from providers.declines import decline_for
from providers.models import ProviderCall
from providers.steps import step_register
from store.prepared import PreparedRead
from webhooks.services import endpoints_forget, endpoints_read_once
from workflows import executor
from workflows.confirmation import payment_awaiting, payment_pending
from workflows.models import RuleEvaluation
from workflows.policy.schema import StepShape, structure_declare
from workflows.policy.selectors import policy_for_order
from workflows.queueing import pipeline_enqueue, pipeline_schedule
from workflows.review.evaluate import review_evaluate
from workflows.runner import CIRCUIT_OPEN, EXHAUSTED, LEFT, step_run

S = OrderState
MAX_HOPS = 25


# --- Gateway calls of the steps, and their idempotency keys ---------------------------

def address_key(order: Order) -> str:
    return address_check_key(order.pk, order_address(order))  # a corrected address is asked anew


def address_check(order: Order, carrier: ShippingProvider, key: str, timeout: float) -> GatewayResult:
    return carrier.check_address(key=key, order_id=order.pk, address=order.ship_address, city=order.ship_city,
                                 state=order.ship_state, zip_code=order.ship_zip, timeout=timeout)


def inventory_key(order: Order) -> str:
    return f"order-{order.pk}-inventory"


# The order's (product id, quantity) per line, as this run read them (its lines never change):
# the inventory and the risk step both send them.
_items_read: contextvars.ContextVar[dict[int, list[tuple[str, int]]] | None] = contextvars.ContextVar(
    "pipeline_items_read", default=None)


def order_items(order: Order) -> list[tuple[str, int]]:
    read = _items_read.get()
    items = read.get(order.pk) if read is not None else None
    if items is None:
        items = list(order.lines.values_list("product_public_id", "quantity"))
        if read is not None:
            read[order.pk] = items
    return items


def inventory_check(order: Order, inventory: InventoryProvider, key: str, timeout: float) -> GatewayResult:
    return inventory.check(key=key, order_id=order.pk, items=order_items(order), timeout=timeout)


def risk_key(order: Order) -> str:
    return f"order-{order.pk}-risk"


def risk_screen(order: Order, risk: Any, key: str, timeout: float) -> GatewayResult:
    items = sum(quantity for _, quantity in order_items(order))
    return risk.score(key=key, order_id=order.pk, amount=order.total, items=items, zip_code=order.ship_zip,
                      timeout=timeout)


def payment_gateway(order: Order) -> PaymentProvider:
    """The provider that charges the order (it records which: refunds go back there)."""
    return registry.payment_provider(order.payment_provider)


def payment_key(order: Order) -> str:
    return order.charge_key  # set as the order entered paying (Order._charge_await)


def payment_charge(order: Order, payments: PaymentProvider, key: str, timeout: float) -> GatewayResult:
    return payments.charge(
        key=key,
        order_id=order.pk,
        token=order.payment_token,
        amount=order.total,
        timeout=timeout,
    )


def shipping_key(order: Order) -> str:
    return f"order-{order.pk}-ship-{order.shipping_retries}"


def shipping_label(order: Order, shipping: ShippingProvider, key: str, timeout: float) -> GatewayResult:
    return shipping.create_label(key=key, order_id=order.pk, zip_code=order.ship_zip, timeout=timeout)


def out_of_stock_fields(order: Order, result: GatewayResult) -> dict:
    """The customer reads product names, never the warehouse's ids: "Out of stock: Desk Mat"."""
    missing = result.data.get("missing") or []
    names = list(order.lines.filter(product_public_id__in=missing).values_list("name", flat=True))
    return {"reason": f"Out of stock: {', '.join(names)}" if names else "Out of stock at the warehouse"}


def payment_fields(result: GatewayResult) -> dict:
    return {"transaction_id": result.reference, "card_last4": result.data.get("last4", "")}


def decline_fields(order: Order, result: GatewayResult) -> dict:
    """The customer reads the decline code's advice (providers.declines; no code is a
    `generic_decline`), never the provider's own words; staff read the code (and the provider's
    answer on the charge call)."""
    decline = decline_for(result.code)
    return {"reason": decline.advice, "decline_code": decline.code}


def shipment_fields(result: GatewayResult) -> dict:
    eta = result.data.get("estimated_delivery")
    return {
        "tracking_number": result.reference,
        "carrier": result.data.get("carrier", ""),
        "estimated_delivery": date.fromisoformat(eta) if eta else date.today() + timedelta(days=3),
    }


# --- Stage kinds ----------------------------------------------------------------------

@dataclass(frozen=True)
class Fire:
    """Fire `transition` straight away."""

    transition: str

    def run(self, order: Order) -> Order | bool:
        return order_transition(order_id=order.pk, name=self.transition, only_from=order.state) or True


@dataclass(frozen=True)
class Acknowledge:
    """E-mail the customer that the order was received, then go on with `then`.

    Placement records the notification in its transaction; the e-mail goes out here, in the
    worker, so a slow mail server never holds up the checkout."""

    event: str
    then: "Fire"

    def run(self, order: Order) -> Order | bool:
        notification_send_pending(order_id=order.pk, event_type=self.event)
        return self.then.run(order)


@dataclass(frozen=True)
class Skip:
    """How the pipeline goes past an optional step a workflow version switches off: wherever it
    would fire `instead_of` (into the step's state), it fires `fire`, which skips the state."""

    instead_of: str
    fire: str


@dataclass(frozen=True)
class Step:
    """Call provider `step` (with retries, through its circuit and bulkhead); fire `success` or
    `failure` with its answer (`failure_final` instead, when it has one, for a refusal the provider
    says asking again cannot change: GatewayResult.retryable False, a hard decline), or
    `unavailable` when the step's calls are spent on timeouts.

    `call(order, provider, key, timeout)` makes the provider's `operation` with the idempotency
    key `key(order)`; the step runner records each attempt under those names (providers.calls).

    While the provider's circuit is open the order waits in its state, noted once in its
    trace, without spending calls; when the cool-down is over the worker cluster's relay runs
    the order that waited longest (`workflows.tasks.circuit_wake`): its call is the probe.

    Its attempts, backoff, timeout and call budget are the order's workflow version's; its
    circuit's thresholds and bulkhead the current version's. `optional`: a version may switch
    the step off, the order then going past it as the Skip says. `implementation` is the class
    serving the provider unless settings.PROVIDERS[step] names another (dotted path), and
    `gateway` how the step finds its provider when another setting chooses it."""

    step: str  # also the provider's name: its circuit, bulkhead and policy
    call: Callable[[Order, Any, str, float], GatewayResult]  # (order, provider, key, timeout)
    operation: str
    key: Callable[[Order], str]
    success: str
    failure: str
    implementation: str = ""
    optional: Skip | None = None
    gateway: Callable[[Order], Any] | None = None
    success_fields: Callable[[GatewayResult], dict] = lambda result: {}
    # What `failure` is told: by default the provider's reason.
    failure_fields: Callable[[Order, GatewayResult], dict] = lambda order, result: {"reason": result.reason}
    failure_final: str = ""
    unavailable: str = "provider_unavailable"
    # The provider already took this step's request and answers later (a pending charge): what
    # to do instead of `unavailable` when the calls are spent on timeouts (None: nothing pending).
    awaiting: Callable[[Order], Order | bool | None] | None = None

    def run(self, order: Order) -> Order | bool:
        policy = policy_for_order(order).step(self.step)
        # Calls spent while the provider had the request pending: no call goes out, so none may
        # claim the circuit's probe (a claim without a call holds it for PROBE_SECONDS).
        if order.step_failures >= policy.calls and self.awaiting is not None:
            waiting = self.awaiting(order)
            if waiting is not None:
                return waiting
        if not breakers.allow(self.step):
            return circuit_wait(order, self.step)
        probing = breakers.circuit(self.step).state != breakers.CLOSED  # this run's call is the probe
        with executor.provider_slot(self.step) as admitted:
            if admitted:
                gateway = self.gateway(order) if self.gateway else registry.provider(self.step)
                key = self.key(order)
                outcome = step_run(
                    self.step, lambda timeout: self.call(order, gateway, key, timeout), policy,
                    failures=order.step_failures,
                    count_failure=lambda: order_step_failed(order_id=order.pk, state=order.state),
                    request=ProviderRequest(self.step, self.operation, key, order.pk, step=self.step),
                )
        if not admitted:  # the bulkhead stayed full for BULKHEAD_WAIT_SECONDS: back to the queue
            if probing:
                breakers.probe_release(self.step)
            pipeline_enqueue(order_id=order.pk)
            return False
        if outcome.closed:
            circuit_closed(self.step, but=order.pk)
        detail = {"step": self.step, "attempts": outcome.attempts}
        if outcome.kind == CIRCUIT_OPEN:
            return circuit_wait(order, self.step)
        if outcome.kind == LEFT:
            return True
        if outcome.kind == EXHAUSTED:
            if self.awaiting is not None and (waiting := self.awaiting(order)) is not None:
                return waiting
            return order_transition(order_id=order.pk, name=self.unavailable, only_from=order.state, detail=detail,
                                    reason=outcome.reason) or True
        if outcome.result.pending:  # the provider confirms later, through its webhook
            return payment_pending(order, outcome.result)
        if outcome.result.ok:
            fields = self.success_fields(outcome.result)
            return order_transition(order_id=order.pk, name=transition_routed(order, self.success),
                                    only_from=order.state, detail=detail, **fields) or True
        failure = self.failure if outcome.result.retryable or not self.failure_final else self.failure_final
        return order_transition(order_id=order.pk, name=failure, only_from=order.state, detail=detail,
                                **self.failure_fields(order, outcome.result)) or True


def circuit_wait(order: Order, provider: str) -> bool:
    """The order waits in its state for the provider's circuit to close (noted once in its trace)."""
    order_waiting_record(order=order, reason=f"{provider} provider unavailable (circuit open)",
                         detail={"provider": provider})
    return False


@dataclass(frozen=True)
class Review:
    """Ask the review rules (workflows.review): `hold` for approval or `reject` as the first rule
    that matches says, else go on with `otherwise`. The evaluation commits with the transition."""

    hold: str
    reject: str
    otherwise: str

    def run(self, order: Order) -> Order | bool:
        try:
            return self._decide(order)
        except IntegrityError:  # the deciding rule was deleted meanwhile: ask the rules as they are now
            return self._decide(order)

    def _decide(self, order: Order) -> Order | bool:
        evaluation = review_evaluate(order)
        rule = evaluation.rule
        with transaction.atomic():
            locked = order_locked(order.pk)
            if locked.state != order.state:  # another run moved the order: this evaluation decides nothing
                return True
            evaluation.save()
            if evaluation.decision == RuleEvaluation.Decision.HOLD:
                return order_transition(order_id=order.pk, name=self.hold, locked=locked,
                                        detail={"evaluation": evaluation.pk}, rule=rule.name)
            if evaluation.decision == RuleEvaluation.Decision.REJECT:
                return order_transition(order_id=order.pk, name=self.reject, locked=locked,
                                        detail={"evaluation": evaluation.pk, "rule": rule.name},
                                        reason=rule.customer_message)
            return order_transition(order_id=order.pk, name=self.otherwise, locked=locked,
                                    detail={"evaluation": evaluation.pk})


@dataclass(frozen=True)
class RefundInFull:
    """The saga's compensation: pay back everything that is left (releases unshipped stock). Once per
    order: a second run finds the first's refund by its key and pays nothing again."""

    reason: str

    def run(self, order: Order) -> bool:
        refund_create(order=order, amount=None, reason=f"{self.reason}: {order.failure_reason}".strip(": "),
                      actor=None, actor_kind=Actor.SYSTEM, idempotency_key=f"order-{order.pk}-refund-in-full")
        return True


@dataclass(frozen=True)
class RetryOrCompensate:
    """Retry a failed state automatically as many times as step `step`'s state retries in the
    order's workflow version say, then compensate."""

    step: str
    retry: str
    counter: str
    compensate: Fire | RefundInFull

    def run(self, order: Order) -> Order | bool:
        if getattr(order, self.counter) < policy_for_order(order).step(self.step).state_retries:
            return order_transition(order_id=order.pk, name=self.retry, only_from=order.state) or True
        return self.compensate.run(order)


def tracking_ask_due(order: Order) -> datetime:
    """When the store next asks the carrier about shipped `order`'s parcel: its workflow version's
    `tracking.timeoutSeconds` after its last news (shipping, or the carrier's latest update:
    `updated_at`), then twice as long after each ask that brought nothing new (at least 2 s, at
    most `tracking.askMaxSeconds` apart). The first wait times PIPELINE["TRACKING_WAIT_SCALE"]
    (the machine's: 0 in tests, which ask at once)."""
    policy = policy_for_order(order)
    timeout = policy.tracking_timeout * settings.PIPELINE["TRACKING_WAIT_SCALE"]
    asks = ProviderCall.objects.filter(order_id=order.pk, provider="shipping", operation="tracking",
                                       created_at__gte=order.updated_at).count()
    return order.updated_at + timedelta(seconds=timeout if asks == 0 else _ask_wait(order, asks))


def _ask_wait(order: Order, times: int) -> float:
    """Seconds to wait after `times` asks about `order`'s parcel: its workflow version's
    `tracking.timeoutSeconds` times PIPELINE["TRACKING_WAIT_SCALE"] (at least 1) doubled each
    time, at most `tracking.askMaxSeconds`."""
    policy = policy_for_order(order)
    return min(max(policy.tracking_timeout * settings.PIPELINE["TRACKING_WAIT_SCALE"], 1) * 2 ** min(times, 32),
               policy.tracking_ask_max)


@dataclass(frozen=True)
class AwaitCarrier:
    """Wait for the carrier's tracking updates: its webhook (orders.services.tracking) fires
    `delivered` or `return_to_sender`. When it has been silent until `tracking_ask_due`, ask it
    (tracking_reconcile: the same updates, applied the same way) and, while the parcel is still
    on its way, ask again later; a carrier that does not answer leaves the order shipped.

    An ask that got no answer (the shipping circuit open, a timeout) is counted on the order
    (`step_failures`, until the carrier answers again) and the next one waits from now, longer
    each time (_ask_wait), so an outage never has every shipped order asked at each pass."""

    def run(self, order: Order) -> Order | bool:
        due = tracking_ask_due(order)
        if timezone.now() < due:
            pipeline_schedule(order_id=order.pk, at=due)
            return False
        # Asked again at once should its updates fail to commit (the next ask may be hours away).
        check = _endpoints_fresh_on_failure(lambda: tracking_reconcile(order=order))
        if check.state != S.SHIPPED:
            return check.order or True
        order = check.order or Order.objects.get(pk=order.pk)
        due = tracking_ask_due(order)
        if check.found == UNREACHABLE:
            due = max(timezone.now(), due) + timedelta(seconds=_ask_wait(order, order.step_failures))
        pipeline_schedule(order_id=order.pk, at=due)
        return False


# --- The wiring -----------------------------------------------------------------------
#   state             what the pipeline does there (each step's policy: fixtures/workflow.yaml, workflow versions)
PIPELINE = {
    S.NEW:            Acknowledge("order.created", then=Fire("start_address_check")),
    # Before any money moves: the carrier says whether it delivers there (undeliverable: nothing charged).
    S.CHECKING_ADDRESS: Step("address", address_check, operation="check", key=address_key,
                             success="address_confirmed", failure="address_undeliverable",
                             implementation="providers.simulated.ShippingGateway"),
    S.VALIDATING:     Step("inventory", inventory_check, operation="check", key=inventory_key,
                           success="validation_passed", failure="validation_failed",
                           implementation="providers.simulated.InventoryGateway",
                           failure_fields=out_of_stock_fields),
    S.SCREENING:      Step("risk", risk_screen, operation="score", key=risk_key,
                           success="risk_scored", failure="risk_unavailable",
                           implementation="providers.risk.RiskSimulator",
                           optional=Skip(instead_of="validation_passed", fire="validation_passed_unscreened"),
                           success_fields=lambda result: {"risk_score": result.data["score"]},
                           unavailable="risk_unavailable"),
    S.VALIDATED:      Review(hold="hold_for_review", reject="rule_reject", otherwise="start_payment"),
    S.PAYING:         Step("payment", payment_charge, operation="charge", key=payment_key,
                           success="payment_approved", failure="payment_declined",
                           failure_final="payment_declined_hard", failure_fields=decline_fields,
                           gateway=payment_gateway, success_fields=payment_fields, awaiting=payment_awaiting),
    S.PAYMENT_FAILED: RetryOrCompensate("payment", retry="retry_payment", counter="payment_retries",
                                        compensate=Fire("abandon_payment")),
    S.PAID:           Fire("start_shipping"),
    S.SHIPPING:       Step("shipping", shipping_label, operation="label", key=shipping_key,
                           success="shipping_confirmed", failure="shipping_failed",
                           implementation="providers.simulated.ShippingGateway", success_fields=shipment_fields),
    S.SHIP_FAILED:    RetryOrCompensate("shipping", retry="retry_shipping", counter="shipping_retries",
                                        compensate=RefundInFull("Shipping failed")),
    S.SHIPPED:        AwaitCarrier(),
    S.RETURNING:      RefundInFull("Returned to sender"),
}
# Not in the table: awaiting_approval and stalled (wait for staff) and the terminal states.


SKIPS = {stage.optional.instead_of: (stage.step, stage.optional.fire)
         for stage in PIPELINE.values() if isinstance(stage, Step) and stage.optional}


def transition_routed(order: Order, name: str) -> str:
    """The transition to fire for `name`: its Skip's when it leads into an optional step the
    order's workflow version switches off."""
    skip = SKIPS.get(name)
    if skip is not None and not policy_for_order(order).runs(skip[0]):
        return skip[1]
    return name


def pipeline_structure() -> tuple[StepShape, ...]:
    """The steps as the policy's schema knows them: which may be switched off, which have a failed
    state the pipeline retries."""
    retried = {stage.step for stage in PIPELINE.values() if isinstance(stage, RetryOrCompensate)}
    shapes: dict[str, StepShape] = {}
    for stage in PIPELINE.values():
        if isinstance(stage, Step) and stage.step not in shapes:
            shapes[stage.step] = StepShape(stage.step, optional=stage.optional is not None,
                                           state_retries=stage.step in retried)
    return tuple(shapes.values())


def steps_register() -> None:
    """Tell the providers (a lower layer, which cannot read this table) about each step: its name,
    the states it works in and its provider's default class; and the policy's schema about the
    steps' structure."""
    for state, stage in PIPELINE.items():
        if isinstance(stage, Step):
            step_register(stage.step, state=state, implementation=stage.implementation)
    structure_declare(pipeline_structure())


steps_register()


def circuit_closed(provider: str, *, but: int | None = None) -> int:
    """The provider answers again: queue a run for every order waiting on it (but `but`, whose
    run goes on), oldest first, at most 1000 (the sweeper finds any others). Returns how many."""
    waiting = orders_waiting_on(provider=provider).exclude(pk=but).values_list("pk", flat=True)[:1000]
    for order_id in waiting:
        pipeline_enqueue(order_id=order_id)
    return len(waiting)


def pipeline_advance(order_id: int) -> str | None:
    """Move the order along the table until it has to wait; return the state it stops in.

    A stage returns the order as its transition left it (fresh, read under the row lock), so
    the next stage starts from that copy instead of reading the order again; True means
    "go on, re-read it" (someone else moved it, or the stage did not fire a transition). The
    webhook endpoints and the order's items are read once per run, when first needed."""
    token = _items_read.set({})
    try:
        with endpoints_read_once():
            return _endpoints_fresh_on_failure(lambda: _advance(order_id))
    finally:
        _items_read.reset(token)


def _endpoints_fresh_on_failure(call: Callable[[], Any]) -> Any:
    """`call()`, once more with the webhook endpoints read anew when a transaction of it failed
    whole (IntegrityError) while the run kept them: maybe a delivery row for an endpoint deleted
    since failed its commit. What it repeats is idempotent (a step, an ask), so the order goes on
    at once instead of at the sweeper's re-run."""
    try:
        return call()
    except IntegrityError:
        if connection.in_atomic_block or not endpoints_forget():
            raise
        return call()


# Read at the start of every run (and after a stage that moved the order without handing it back).
_ORDER = PreparedRead(lambda pk: Order.objects.filter(pk=pk), "pk")


def _order_fresh(order_id: int) -> Order | None:
    orders = _ORDER.read(pk=order_id).objects()
    return orders[0] if orders else None


def _advance(order_id: int) -> str | None:
    state = None
    order = _order_fresh(order_id)
    for _ in range(MAX_HOPS):
        if order is None:
            return None
        state = order.state
        stage = PIPELINE.get(state)
        if stage is None:
            return state
        outcome = stage.run(order)
        if not outcome:
            return state
        order = outcome if isinstance(outcome, Order) else _order_fresh(order_id)
    return state
