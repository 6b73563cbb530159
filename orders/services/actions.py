"""What customers and staff do to an existing order: cancel, approve, reject, retry, refund."""
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce

from orders.models import Order, OrderEvent, OrderLine, Refund, RefundLine
from orders.selectors import shipping_refundable
from orders.services.idempotency import replay_of, request_fingerprint
from orders.services.transitions import TransitionRefused, order_ready_on_commit, order_transition
from orders.signals import order_event
from orders.states import (
    CANCELLABLE_STATES,
    FULL_REFUND_TRANSITION,
    REFUNDABLE_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    WORKING_STATES,
    Actor,
    OrderState,
    StockStatus,
    meaning,
    transitions_from,
)
from orders.stock import stock_restock
from providers.base import GatewayTimeout
from providers.calls import ProviderRequest, call_recorded
from providers.registry import payment_provider
from store import permissions
from store.errors import Conflict, PermissionRefused, ProviderUnavailable, ValidationFailed
from store.money import money
from store.numbers import MAX_ID
from store.permissions import SYSTEM
from store.request_context import request_id_var


def _staff_note(note: str) -> dict | None:
    """The event detail that keeps staff's internal note (orders.models.OrderEvent.STAFF_ONLY_DETAIL)."""
    note = (note or "").strip()
    return {"note": note} if note else None


def _not_own(order: Order, actor, verb: str) -> None:
    """Staff never decide on their own orders: a review rule or a refund needs a second person."""
    if actor is not None and order.owner_id == actor.pk:
        raise PermissionRefused(f"You cannot {verb} your own order {order.number}; ask a colleague.")


def order_act(*, order: Order, name: str, actor, customer_message: str = "", note: str = "",
              customer_default: str = "") -> Order:
    """Fire the person's transition `name` on `order` as `actor`, as its declaration says.

    Its `permission=` decides who may (PermissionRefused, 403, otherwise); a `not_own`
    transition is never fired by staff on their own order. The order's owner acts as the
    customer, anyone else as staff. For a transition that takes a reason (reject, cancel),
    `customer_message` is what the customer reads, else `customer_default` (the customer's
    own cancellation) or the declared `default_reason`; staff's `note` stays on the timeline,
    for staff. A state the transition does not leave from raises TransitionRefused (409).
    """
    declared = TRANSITIONS.get(name)
    if declared is None or declared.permission is SYSTEM:
        raise ValueError(f"{name!r} is not a transition people fire")
    said = meaning(name)
    if not declared.has_perm(order, actor):
        raise PermissionRefused(f"You do not have permission to {said.label.lower()} order {order.number}.")
    if said.not_own:
        _not_own(order, actor, said.label.lower())
    is_owner = actor is not None and order.owner_id == actor.pk
    words = {}
    if said.confirm:
        text = (customer_message or "").strip() or (customer_default if is_owner else "") or said.default_reason
        words = {"reason": text, "detail": _staff_note(note)}
    return order_transition(order_id=order.pk, name=name, actor=actor,
                            actor_kind=Actor.CUSTOMER if is_owner else Actor.STAFF, **words)


def order_cancel(*, order: Order, actor, customer_message: str = "", note: str = "") -> Order:
    """Cancel an order nothing was paid for yet (the `cancel` transition's sources): by its
    owner, or by staff with orders.change_order, who may add an internal `note`."""
    if order.state not in CANCELLABLE_STATES:
        raise TransitionRefused(
            f"Order {order.number} is {order.get_state_display().lower()} and can no longer be cancelled."
        )
    return order_act(order=order, name="cancel", actor=actor, customer_message=customer_message, note=note,
                     customer_default="Cancelled by the customer")


def order_approve(*, order: Order, actor) -> Order:
    """Release a held order to payment (not by its own customer: PermissionRefused)."""
    return order_act(order=order, name="approve", actor=actor)


def order_reject(*, order: Order, actor, customer_message: str = "", note: str = "") -> Order:
    """Refuse a held order: it is cancelled and its stock released (not by its own customer).

    The customer sees `customer_message` (or a neutral default), never staff's `note`.
    """
    return order_act(order=order, name="reject", actor=actor, customer_message=customer_message, note=note)


def order_retry(*, order: Order, actor) -> Order:
    """Retry the order's current step: a failed payment or shipment (the `retry` transition
    its state allows), or a working step that seems stuck (run it again; steps are idempotent)."""
    for declared in transitions_from(order.state):
        if meaning(declared.name).action == "retry":
            return order_act(order=order, name=declared.name, actor=actor)
    if order.state in WORKING_STATES:
        permissions.require(actor, permissions.ORDER_CHANGE, doing="retry orders")
        order_ready_on_commit(order.pk)
        return order
    raise TransitionRefused(f"Order {order.number} is {order.get_state_display().lower()}; there is nothing to retry.")


def order_redrive(*, order: Order, actor) -> Order:
    """Send an order that stalled on a provider (its calls spent on timeouts) back to the step it
    stalled in, with an event on its timeline; needs orders.change_order. Once the provider's
    circuit is closed the step runs at once; while it is open the order waits in that step."""
    for declared in transitions_from(order.state):
        said = meaning(declared.name)
        if said.action == "redrive" and all(condition(order) for condition in declared.conditions):
            return order_act(order=order, name=declared.name, actor=actor)
    raise TransitionRefused(f"Order {order.number} is {order.get_state_display().lower()}; there is nothing to re-drive.")


def order_action(*, order: Order, action: str, actor, customer_message: str = "", note: str = "") -> Order:
    """Take people's action `action` on `order` (a transition's declared `Meaning.action`, as the
    API's /api/orders/{id}/<action> names it). Cancel, retry and re-drive pick the transition the
    order's state allows (their own services); any other action fires its one transition."""
    if action == "cancel":
        return order_cancel(order=order, actor=actor, customer_message=customer_message, note=note)
    if action == "retry":
        with transaction.atomic():  # a stuck step's run is queued once this commits
            return order_retry(order=order, actor=actor)
    if action == "redrive":
        return order_redrive(order=order, actor=actor)
    (name,) = {name for name in TRANSITIONS if meaning(name).action == action}
    return order_act(order=order, name=name, actor=actor, customer_message=customer_message, note=note)


@dataclass(frozen=True)
class RefundResult:
    refund: Refund
    created: bool  # False: a replay of `idempotency_key`, answered with the first refund


@dataclass(frozen=True)
class RefundLineRequest:
    """`quantity` units of the order's line `line_id` (OrderLine.pk) to refund."""

    line_id: int
    quantity: int


def _refund_lines(order: Order, requested: Sequence[RefundLineRequest]) -> list[tuple[OrderLine, int]]:
    """The order's lines and the units to refund of each, checked against what is left of them:
    bought minus already refunded (read under the order's row lock). ValidationFailed otherwise."""
    wanted: dict[int, int] = {}
    for item in requested:
        if not isinstance(item.quantity, int) or isinstance(item.quantity, bool) or item.quantity < 1:
            raise ValidationFailed(f"The quantity to refund of line {item.line_id} must be a whole number, 1 or more.",
                                   fields={"lines": {str(item.line_id): "At least 1."}})
        wanted[item.line_id] = wanted.get(item.line_id, 0) + item.quantity
    # An id past the database's integers names no line (and would not fit in the query).
    lines = {line.pk: line for line in order.lines.filter(pk__in=[pk for pk in wanted if 0 < pk <= MAX_ID]).annotate(
        refunded=Coalesce(Sum("refund_lines__quantity"), 0))}
    unknown = sorted(set(wanted) - set(lines))
    if unknown:
        raise ValidationFailed(f"Order {order.number} has no line {', '.join(map(str, unknown))}.",
                               fields={"lines": {str(pk): "Not a line of this order." for pk in unknown}})
    chosen = []
    for pk, quantity in wanted.items():
        line = lines[pk]
        left = line.quantity - line.refunded
        if quantity > left:
            raise ValidationFailed(
                f"At most {left} of {line.name} can be refunded on order {order.number} "
                f"({line.quantity} bought, {line.refunded} refunded already).",
                fields={"lines": {str(pk): f"At most {left}."}},
            )
        chosen.append((line, quantity))
    return sorted(chosen, key=lambda pair: pair[0].pk)


def _items_text(chosen: list[tuple[OrderLine, int]]) -> str:
    """ "2 × Laptop Stand, 1 × USB-C Hub" """
    return ", ".join(f"{quantity} × {line.name}" for line, quantity in chosen)


class RefundUnderWay(TransitionRefused):
    code = "refund_under_way"


def _staff_may_refund(order: Order) -> None:
    """Staff (and the API) refund only where the order page offers it: the states the `refund`
    transition leaves. A returned parcel's refund is the pipeline's (RefundUnderWay, 409)."""
    if order.state == OrderState.RETURNING:
        raise RefundUnderWay(f"Order {order.number} came back to the shop: the store is refunding what is left "
                             "in full itself. Nothing was refunded.")
    if order.state not in REFUNDABLE_STATES:
        raise TransitionRefused(f"Order {order.number} cannot be refunded while {order.state}.")


@dataclass(frozen=True)
class RefundPlan:
    """What a refund does, as refund_create decides it (refund_preview shows it to staff first).

    `amount` (USD) is paid back of `refundable` (what was left before it: items and shipping);
    `shipping_amount` is the part of it that gives back shipping (the rest gives back items);
    `shipping_offered`: the shipping no refund gave back yet, before it (what "Also refund
    shipping" would add; 0.00 when shipping was free or is refunded already); `lines` are the
    (OrderLine, units) it refunds, back to stock when `restock`; `full`: it refunds everything
    left, so the order's full-refund transition fires (FULL_REFUND_TRANSITION) and the state
    becomes `state_after`; `event_type` is the event it publishes, hence the customer's notice.
    `releases_stock`: that transition ends an order whose units are still reserved (nothing
    shipped), so every unit not restocked by a refund goes back to stock (order_transition).
    """

    order: Order
    amount: Decimal
    refundable: Decimal
    shipping_amount: Decimal
    shipping_offered: Decimal
    lines: tuple[tuple[OrderLine, int], ...]
    restock: bool
    full: bool
    event_type: str
    state_after: str
    releases_stock: bool

    @property
    def left(self) -> Decimal:
        """What is left to refund after it."""
        return self.refundable - self.amount

    def shown(self) -> dict[str, str]:
        """What a confirmation page shows of it, as strings its form posts back ("shown_…"):
        the amount, what was left to refund before it, the state after it. A plan whose
        `shown()` differs is not the refund staff confirmed."""
        return {"shown_amount": str(self.amount), "shown_refundable": str(self.refundable),
                "shown_state_after": self.state_after}

    @property
    def items(self) -> str:
        """ "2 × Laptop Stand, 1 × USB-C Hub", or "" for a refund of an amount only."""
        return _items_text(list(self.lines))

    @property
    def items_amount(self) -> Decimal:
        """What of `amount` gives back items (USD)."""
        return self.amount - self.shipping_amount


def _refund_asked(order: Order, *, reason: str, actor, actor_kind: str, lines: Sequence[RefundLineRequest],
                  restock: bool) -> str:
    """The checks of a refund request that need no lock; the reason, stripped."""
    if actor_kind == Actor.STAFF:
        _not_own(order, actor, "refund")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("A refund needs a reason.", fields={"reason": "This field is required."})
    if restock and not lines:
        raise ValidationFailed("Choose the items to return to stock.",
                               fields={"lines": "Required to return units to stock."})
    return reason


def _shipping_asked(order: Order, shipping_left: Decimal) -> None:
    """Staff asked to refund the shipping: there must be some left (ValidationFailed otherwise)."""
    if order.shipping_cost <= 0:
        raise ValidationFailed(f"Order {order.number} shipped for free: there is no shipping to refund.",
                               fields={"shipping": "Shipping was free."})
    if shipping_left <= 0:
        raise ValidationFailed(
            f"The shipping of order {order.number} ({money(order.shipping_cost)}) was refunded already; "
            "it is refunded once.", fields={"shipping": "Refunded already."})


def _refund_plan(order: Order, *, requested: Decimal | None, lines: Sequence[RefundLineRequest], restock: bool,
                 actor_kind: str, shipping: bool = False) -> RefundPlan:
    """The refund `order` (as read, under its lock when it pays) allows: every number checked.

    What is refundable is the items and the shipping not given back yet. `shipping`: staff add
    all the shipping left to the refund (the amount, when given, counts it); otherwise a refund
    gives back items first and the shipping only with what reaches past the items left (a full
    refund does), so a line refund gives back items only."""
    refundable = order.refundable_amount
    if refundable <= 0:
        raise TransitionRefused(f"Order {order.number} has nothing left to refund.")
    if actor_kind != Actor.SYSTEM:
        _staff_may_refund(order)
    shipping_left = shipping_refundable(order=order)
    if shipping:
        _shipping_asked(order, shipping_left)
    if restock and order.stock_status in (StockStatus.RETURNED, StockStatus.RELEASED):
        raise ValidationFailed(
            f"The units of order {order.number} are back in stock already; refund them without returning "
            "them to stock.", fields={"restock": "The units are back in stock already."})
    added = shipping_left if shipping else Decimal("0.00")
    items_left = refundable - shipping_left
    chosen = _refund_lines(order, lines) if lines else []
    if chosen:
        worth = sum((line.unit_price * quantity for line, quantity in chosen), Decimal("0.00")) + added
        if requested is not None and requested > worth:
            what = "The items chosen and the shipping are" if shipping else "The items chosen are"
            raise ValidationFailed(
                f"{what} worth {money(worth)}; the refund can be that or less.",
                fields={"amount": f"At most {money(worth)}."},
            )
        amount = worth if requested is None else requested
        # A line refund gives back items only: after refunds of amounts only, the items left
        # may be worth less than the units chosen, and the rest would be shipping (with no
        # shipping left, the refundable amount's own check below says it).
        if shipping_left and amount - added > items_left:
            most = items_left + added
            with_shipping = " and the shipping" if shipping else ""
            raise ValidationFailed(
                f"Only {money(items_left)} of the items of order {order.number} is left to refund (refunds of "
                f"amounts gave back the rest); a refund of units{with_shipping} can be {money(most)} or less.",
                fields={"amount": f"At most {money(most)}."},
            )
    elif shipping:
        amount = added if requested is None else requested
    else:
        amount = refundable if requested is None else requested
    if amount <= 0:
        raise ValidationFailed("The refund amount must be positive.", fields={"amount": "Must be more than 0."})
    if amount > refundable:
        raise ValidationFailed(
            f"At most {money(refundable)} can be refunded on order {order.number}.",
            fields={"amount": f"At most {money(refundable)}."},
        )
    if amount < added:
        raise ValidationFailed(
            f"A refund with the shipping is at least the shipping, {money(added)}.",
            fields={"amount": f"At least {money(added)}."},
        )
    shipping_amount = added if shipping else max(amount - items_left, Decimal("0.00"))
    full = amount == refundable
    transition = TRANSITIONS[FULL_REFUND_TRANSITION.get(order.state, "refund")]
    return RefundPlan(
        order=order, amount=amount, refundable=refundable, shipping_amount=shipping_amount,
        shipping_offered=shipping_left, lines=tuple(chosen), restock=bool(restock) and bool(chosen),
        full=full, event_type=meaning(transition.name).event if full else "order.partially_refunded",
        state_after=transition.target if full else order.state,
        releases_stock=full and transition.target in TERMINAL_STATES and order.stock_status == StockStatus.RESERVED,
    )


def refund_preview(
    *, order: Order, amount: Decimal | None, reason: str, actor=None, actor_kind: str = Actor.STAFF,
    lines: Sequence[RefundLineRequest] = (), restock: bool = False, shipping: bool = False,
) -> RefundPlan:
    """What refund_create would do with the same arguments now (RefundPlan), without doing it:
    the confirmation staff read before the money moves. It raises what refund_create raises for
    the same request; refund_create checks everything again under the order's lock."""
    _refund_asked(order, reason=reason, actor=actor, actor_kind=actor_kind, lines=lines, restock=restock)
    requested = None if amount is None else Decimal(amount).quantize(Decimal("0.01"))
    return _refund_plan(Order.objects.get(pk=order.pk), requested=requested, lines=lines, restock=restock,
                        actor_kind=actor_kind, shipping=shipping)


def refund_create(
    *, order: Order, amount: Decimal | None, reason: str, actor=None, actor_kind: str = Actor.STAFF,
    idempotency_key: str = "", lines: Sequence[RefundLineRequest] = (), restock: bool = False,
    shipping: bool = False,
) -> RefundResult:
    """Refund part or all of what is left of an order's payment through the provider that charged it.

    With `lines`, the refund pays back those units of those lines: the amount is their price
    (unit price × quantity, USD), or `amount` when staff give less (never more: ValidationFailed),
    and no line is refunded more units than were bought minus those refunded already
    (ValidationFailed naming the line). `restock` returns the units to stock (each product's
    ledger names the refund's order); it needs `lines`. Without lines, `amount` (default:
    everything left) is refunded as money only.

    What is refundable counts the items and the shipping not refunded yet (order.total minus
    what was refunded). A refund gives back items first: a line refund gives back items only
    (its price beyond the shipping asked is at most the items left to refund, which refunds of
    amounts may have lowered: ValidationFailed, field "amount", otherwise),
    and a refund of everything left gives back the shipping too, whether the order shipped or
    not. `shipping` adds all the shipping left to the refund explicitly (to the lines' price,
    or as the whole refund without lines or amount; an `amount` given counts it); it is refused
    (ValidationFailed, field "shipping") when shipping was free or was refunded already.
    Refund.shipping_amount records the part that gave back shipping.

    A refund of everything that is left fires the state's full-refund transition
    (orders.states.FULL_REFUND_TRANSITION: `refund`, which releases the units still reserved when
    nothing shipped; `return_refunded` for a parcel the carrier returned); a partial refund leaves the state and the
    customer is told the amount and the items. Staff cannot refund their own orders
    (PermissionRefused), and refund only in the states the order page offers it
    (REFUNDABLE_STATES; TransitionRefused, 409): a returned parcel's refund is the pipeline's
    (RefundUnderWay, 409). Units already back in stock (returned by the carrier, or released)
    are never restocked again (ValidationFailed).

    Idempotent by key, as order placement is: the same `idempotency_key` on the same order
    returns the first refund (created=False) without paying again, also when the requests
    run at once (they queue on the order's row lock); the same key with another amount,
    reason, lines or restock raises Unprocessable (422). Without a key, the gateway call still
    carries one derived from the order and its refund count, taken under the row lock, so a
    step that runs twice never pays out twice. Nothing is written when any check fails.
    """

    reason = _refund_asked(order, reason=reason, actor=actor, actor_kind=actor_kind, lines=lines, restock=restock)
    requested = None if amount is None else Decimal(amount).quantize(Decimal("0.01"))
    fingerprint = request_fingerprint({
        "amount": None if requested is None else str(requested), "reason": reason,
        **({"lines": sorted([item.line_id, item.quantity] for item in lines), "restock": bool(restock)}
           if lines else {}),
        **({"shipping": True} if shipping else {}),
    })
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if idempotency_key:
            first = replay_of(locked.refunds.filter(idempotency_key=idempotency_key).first(), fingerprint,
                              what="refund")
            if first is not None:
                return RefundResult(first, created=False)
        plan = _refund_plan(locked, requested=requested, lines=lines, restock=restock, actor_kind=actor_kind,
                            shipping=shipping)
        amount, chosen = plan.amount, list(plan.lines)
        sequence = locked.refunds.count() + 1
        try:
            payments = payment_provider(locked.payment_provider)
        except KeyError:
            raise Conflict(f"Order {locked.number} was charged by the payment provider {locked.payment_provider!r}, "
                           "which this shop is no longer configured with: refund it there.") from None
        key = f"order-{locked.pk}-refund-{sequence}"
        try:
            result = call_recorded(ProviderRequest("payment", "refund", key, locked.pk), lambda: payments.refund(
                key=key, order_id=locked.pk, transaction_id=locked.transaction_id, amount=amount))
        except GatewayTimeout as exc:  # nothing is written; the same key asks again, so it never pays twice
            raise ProviderUnavailable(f"The payment provider did not answer ({exc}); nothing was refunded on order "
                                      f"{locked.number}. Try again in a moment.") from exc
        refund = Refund.objects.create(
            order=locked, amount=amount, shipping_amount=plan.shipping_amount, reason=reason,
            gateway_reference=result.reference, created_by=actor,
            idempotency_key=idempotency_key, request_fingerprint=fingerprint,
        )
        RefundLine.objects.bulk_create(
            RefundLine(refund=refund, line=line, quantity=quantity, restocked=restock) for line, quantity in chosen
        )
        for line, quantity in chosen if restock else ():
            stock_restock(product_id=line.product_id, quantity=quantity, order_ref=locked.pk, user=actor)
        # Computed in Decimal under the row lock: SQLite adds an F() sum in floating point, and
        # 299.98 + 149.97 would then exceed the total the check constraint holds it to.
        locked.refunded_amount += amount  # what order_event's receivers read
        Order.objects.filter(pk=locked.pk).update(refunded_amount=locked.refunded_amount)
        detail = {"amount": str(amount), "reason": reason, "reference": result.reference, "refund": refund.pk}
        if chosen:
            detail.update(items=_items_text(chosen), restocked=bool(restock))
        if plan.shipping_amount:
            detail.update(shipping=str(plan.shipping_amount))
        if plan.full:
            order_transition(order_id=locked.pk, name=FULL_REFUND_TRANSITION.get(locked.state, "refund"), actor=actor,
                             actor_kind=actor_kind, detail=detail)
        else:
            event = OrderEvent.objects.create(
                order=locked,
                event_type="order.partially_refunded",
                transition="",
                source_state=locked.state,
                target_state=locked.state,
                actor_kind=actor_kind,
                actor=actor,
                actor_email=getattr(actor, "email", "") or "",
                detail=detail,
                request_id=request_id_var.get() or "",
            )
            order_event.send(sender=Order, order=locked, event=event)
    return RefundResult(refund, created=True)
