"""Trying a draft before publishing it: a dry run on a handful of synthetic orders.

The worker runs each synthetic order through the pipeline against the simulated providers
under the draft's policy, then under the current version's, each order in a transaction that
is rolled back: no order, charge, card token, ledger row, stock movement, notification or
webhook delivery remains, and the tasks a run would queue are dropped (workflows.outbox). The
runs have circuit breakers and bulkheads of their own (providers.breakers.isolated,
workflows.executor.bulkheads_isolated), so neither the store's circuits nor its worker's places
are touched. The synthetic orders order one unit of an active product without reserving it.

Everything runs in a sandbox (store.sandbox): nothing sleeps, neither the simulated providers'
latencies and timeouts nor the backoffs between attempts; their seconds are counted instead. So
each synthetic order's transaction (which on SQLite holds the database's write lock) lasts as
long as its database work only, a provider outage included, and no metric counts a synthetic
call. Log lines of the runs start with "[dry run]": a rolled-back order's id is given again.
The synthetic customer is made in the rolled-back transaction with an address of its own per
order (a random token), so no account anyone registers can stand in its way.

The figures, per step and per version: calls, their outcomes ("ok", "declined", "timeout"…)
and the seconds the store would have waited for them (the policy's timeout for a call that
timed out), backoffs included in each order's seconds, and how each order ended. They are kept
on the draft (`WorkflowVersion.dry_run`) with the policy they ran.
"""
import logging
import secrets
from collections import Counter
from contextlib import ExitStack
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from catalog.models import Product
from orders.models import Order, OrderLine
from providers import breakers
from providers.models import ProviderCall
from providers.registry import payment_provider
from store import sandbox
from workflows import executor, outbox
from workflows.models import WorkflowVersion
from workflows.pipeline import pipeline_advance
from workflows.policy.schema import policy_clean, structure
from workflows.policy.selectors import policy_current, policy_overridden
from workflows.policy.values import Policy

logger = logging.getLogger("workflows.dryrun")

# The synthetic orders: the simulator's test cards and ZIP codes, so both versions meet the same
# answers (approved, a timeout then approved, declined, an address the carrier's check refuses
# before any charge, a label that fails after the charge: the shipping retries and the saga's
# refund, approved).
SYNTHETIC_ORDERS = (
    ("4242424242424242", "62701"),
    ("4000000000000119", "62701"),
    ("4000000000000002", "62701"),
    ("4242424242424242", "00000"),
    ("4242424242424242", "00500"),
    ("4242424242424242", "62702"),
)
SANDBOX_DOMAIN = "sandbox.invalid"  # a reserved top-level domain: no mail goes there


class Sandboxed(Exception):
    """Raised inside a synthetic order's transaction to roll it back once its figures are read."""


def _synthetic_order(product: Product, card: str, zip_code: str) -> Order:
    owner = User.objects.create(email=f"dry-run-{secrets.token_hex(12)}@{SANDBOX_DOMAIN}", name="Dry run",
                                is_active=False)
    token = payment_provider().tokenize(card)
    order = Order.objects.create(
        owner=owner, ship_address="1 Dry Run Way", ship_city="Springfield", ship_state="IL", ship_zip=zip_code,
        subtotal=product.price, total=product.price, payment_provider=payment_provider().name, payment_token=token.token,
        card_last4=token.last4, stock_status="released")  # nothing reserved: no stock moves
    OrderLine.objects.create(order=order, product=product, product_public_id=product.public_id, name=product.name,
                             unit_price=product.price, quantity=1)
    return order


def _run_one(product: Product, card: str, zip_code: str) -> tuple[str, list[tuple[str, str, int]], float]:
    """(end state, [(provider, outcome, latency ms)], seconds) of one synthetic order, rolled back."""
    figures: dict = {}
    try:
        with transaction.atomic():
            order = _synthetic_order(product, card, zip_code)
            started = sandbox.clock()
            figures["state"] = pipeline_advance(order.pk) or ""
            figures["seconds"] = sandbox.clock() - started
            figures["calls"] = list(ProviderCall.objects.filter(order_id=order.pk)
                                    .values_list("provider", "outcome", "latency_ms"))
            raise Sandboxed
    except Sandboxed:
        pass
    return figures["state"], figures["calls"], figures["seconds"]


def _run(policy: Policy, product: Product) -> dict:
    """The synthetic orders under `policy`: per step {calls, outcomes, seconds}, and the orders' end states."""
    steps = {shape.name: {"calls": 0, "outcomes": Counter(), "seconds": 0.0} for shape in structure()}
    ends: Counter = Counter()
    seconds = 0.0
    with ExitStack() as stack:
        stack.enter_context(sandbox.sandboxed())
        stack.enter_context(policy_overridden(policy))
        stack.enter_context(breakers.isolated())
        stack.enter_context(executor.bulkheads_isolated())
        stack.enter_context(outbox.tasks_dropped())
        for card, zip_code in SYNTHETIC_ORDERS:
            state, calls, took = _run_one(product, card, zip_code)
            ends[state] += 1
            seconds += took
            for provider, outcome, latency_ms in calls:
                if provider in steps:
                    steps[provider]["calls"] += 1
                    steps[provider]["outcomes"][outcome] += 1
                    steps[provider]["seconds"] += latency_ms / 1000
    return {"steps": {name: {"calls": figures["calls"], "outcomes": dict(figures["outcomes"]),
                             "seconds": round(figures["seconds"], 3)} for name, figures in steps.items()},
            "ended": dict(ends), "seconds": round(seconds, 3)}


def policy_dry_run(policy: dict) -> dict:
    """Run the synthetic orders under `policy` (checked first: ValidationError) and under the
    current version. Returns {"orders", "draft": figures, "current": figures, "currentVersion",
    "policy"}, figures as `_run` gives them; {"error"} when the catalog has no active product."""
    draft = Policy(0, policy_clean(policy))
    current = policy_current()
    product = Product.objects.filter(is_active=True, price__gt=Decimal("0")).order_by("pk").first()
    if product is None:
        return {"error": "The catalog has no active product for the synthetic orders to order."}
    return {"orders": len(SYNTHETIC_ORDERS), "draft": _run(draft, product), "current": _run(current, product),
            "currentVersion": current.number, "policy": draft.data}


def version_dry_run(version_id: int) -> bool:
    """The worker's task: dry-run draft `version_id` and keep the figures on it. False when it is
    no longer a draft (published meanwhile: its figures would change nothing) or is gone."""
    version = WorkflowVersion.objects.filter(pk=version_id, status=WorkflowVersion.Status.DRAFT).first()
    if version is None:
        return False
    figures = policy_dry_run(version.policy)
    kept = WorkflowVersion.objects.filter(pk=version_id, status=WorkflowVersion.Status.DRAFT).update(
        dry_run=figures, dry_run_at=timezone.now())
    logger.info("dry run of draft %s: %s", version_id, {k: v for k, v in figures.items() if k != "policy"})
    return bool(kept)
