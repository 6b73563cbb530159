"""What the customer may do after an order ended, trying one again, and the payment links staff send.

An order that ended or waits tells its customer what happened to the money
(`order_money_outcome`) and what they may do (`order_next_step_shown`: the next step declared on
the transition that ended it, orders.selectors.order_next_step). The customer's "Try again"
(offered where that step says so: another card, correct the address) and the payment link
staff e-mail (`PaymentLink`) both put the order's lines back in the cart
(storefront.services.reorder); an order placed from there links back to it (`Order.retry_of`,
found by `order_retry_source`), and an order is tried again at most once while its retry is
alive (`order_retry_refuse_twice`).
"""
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from orders.meaning import NextStep, Option
from orders.models import Order, OrderEvent, PaymentLink
from orders.selectors import order_next_step
from orders.signals import order_event
from orders.states import PAYMENT_FAILED_ENDINGS, TERMINAL_STATES, Actor, OrderState
from store.errors import Conflict, NotFound
from store.links import public_url
from store.money import money
from store.request_context import request_id_var

# Orders that ended without shipping anything: a retry of an order that ended so is not alive.
# Whether the customer is offered "Try again" is the next step of its ending (order_retryable).
RETRYABLE_STATES = frozenset({OrderState.FAILED, OrderState.CANCELLED})
PAYMENT_LINK_EVENT = "order.payment_link_sent"
_LINK_SALT = "orders.payment-link"


class LinkRefused(Conflict):
    """A payment link that no longer works (expired, already used): nothing was written."""

    code = "payment_link_refused"


class AlreadyRetried(Conflict):
    """The order was already placed again by an order that did not fail or get cancelled: a
    second one would buy the same things twice. `fields["order_id"]`: that order. Nothing was written."""

    code = "already_retried"


def order_money_outcome(order: Order) -> str:
    """What happened to the customer's money, in one sentence, from the order's charge and
    refunds, amounts with their currency (store.money.money): "No charge was made." (it ended
    without one), "Nothing was charged yet." (before its payment), "Refunded $1,049.93." (all of
    it back), "Paid $1,049.93; refunded $49.99." (part of it back) or "Paid $1,049.93."."""
    if not order.transaction_id:
        return "No charge was made." if order.state in TERMINAL_STATES else "Nothing was charged yet."
    if order.refunded_amount >= order.total:
        return f"Refunded {money(order.refunded_amount)}."
    if order.refunded_amount:
        return f"Paid {money(order.total)}; refunded {money(order.refunded_amount)}."
    return f"Paid {money(order.total)}."


def shop_contact_email() -> str:
    """The address customers write to: the one the shop's e-mails come from (settings.DEFAULT_FROM_EMAIL)."""
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1]


@dataclass(frozen=True)
class NextControl:
    """One thing the customer may do (orders.meaning.Option), as a control: `label`; `href`, where
    the order page's control goes (`post`: the Try again form posts there); `link`, the absolute
    address the e-mail gives (the order page for Try again, where the button is; the shop's
    address to write to)."""

    option: Option
    label: str
    href: str
    post: bool
    link: str


@dataclass(frozen=True)
class NextStepShown:
    """What an order that ended or waits tells its customer: `money` (order_money_outcome), then
    `advice` and the `controls` offered, the main one first."""

    money: str
    advice: str
    controls: tuple[NextControl, ...]

    @property
    def email_text(self) -> str:
        """The e-mail's paragraph: the advice and each control's link ("Shop again: https://…")."""
        links = " ".join(f"{control.label}: {control.link}." for control in self.controls)
        return f"{self.advice} {links}".strip()


def _control(option: Option, order: Order) -> NextControl:
    if option.try_again:
        page = reverse("orders:order_detail", kwargs={"order_id": order.pk})
        return NextControl(option, option.label, reverse("orders:order_try_again", kwargs={"order_id": order.pk}),
                           True, public_url(page))
    if option is Option.CONTACT_SHOP:
        address = shop_contact_email()
        return NextControl(option, option.label, f"mailto:{address}", False, address)
    catalog = reverse("catalog:product_list")
    return NextControl(option, option.label, catalog, False, public_url(catalog))


def order_next_step_shown(*, order: Order, user=None, step: NextStep | None = None,
                          entered: OrderEvent | None = None) -> NextStepShown | None:
    """What `order` tells its customer now it ended or waits (orders.selectors.order_next_step),
    None while the pipeline moves it on. Try again is offered to the owner (`user`; None: the
    owner, as in the e-mail) until the order was placed again; then the advice says which order
    that was. `step`: shown instead of the order's own (a refund's confirmation shows the step
    its transition will declare, before it fires); `entered`: the event of the transition that
    brought the order into its state, when the caller has it (orders.selectors.order_next_step)."""
    step = step or order_next_step(order=order, entered=entered)
    if step is None:
        return None
    advice, options = step.advice, step.options
    if step.try_again is not None:
        retry = order_live_retry(order)
        if retry is not None:
            advice = f"You placed this order again as order {retry.number}."
        if retry is not None or (user is not None and user.pk != order.owner_id):
            options = tuple(option for option in options if not option.try_again)
    return NextStepShown(order_money_outcome(order), advice, tuple(_control(option, order) for option in options))


def order_retryable(order: Order) -> bool:
    """Whether `order` ended with Try again among its next steps (another card, correct the address)."""
    step = order_next_step(order=order)
    return order.state in TERMINAL_STATES and step is not None and step.try_again is not None


def order_live_retry(order: Order) -> Order | None:
    """The first order placed again from `order` (Order.retry_of), or from one of its retries
    that ended unfulfilled too, that did not (it is under way, or was fulfilled), or None."""
    generation = [order.pk]
    while generation:  # retry_of points to an older order: no cycles
        retries = list(Order.objects.filter(retry_of__in=generation).order_by("created_at", "pk"))
        live = next((retry for retry in retries
                     if retry.state not in RETRYABLE_STATES and not order_retryable(retry)), None)
        if live is not None:
            return live
        generation = [retry.pk for retry in retries]
    return None


def order_retry_refuse_twice(order: Order) -> None:
    """Raise AlreadyRetried when `order` was already placed again (order_live_retry)."""
    retry = order_live_retry(order)
    if retry is not None:
        raise AlreadyRetried(f"Order {order.number} was already placed again as order {retry.number}.",
                             fields={"order_id": retry.pk})


def order_try_again_offered(*, order: Order, user) -> bool:
    """Whether `user` is offered "Try again" on `order`: their own order, whose ending offers it
    (order_retryable), and not placed again already (order_reorder refuses the rest)."""
    return order.owner_id == user.pk and order_retryable(order) and order_live_retry(order) is None


# --- payment links ----------------------------------------------------------------------------

def payment_link_failed(order: Order) -> bool:
    """Whether the order ended because its payment failed (a link lets the customer pay again)."""
    return order.state == OrderState.FAILED and not order.transaction_id and order.events.filter(
        transition__in=PAYMENT_FAILED_ENDINGS).exists()


def payment_link_token(link: PaymentLink) -> str:
    return signing.dumps(link.pk, salt=_LINK_SALT)


def payment_link_url(link: PaymentLink) -> str:
    """The absolute URL the customer opens (the store's public address, store.links, + the storefront's path)."""
    return public_url(reverse("orders:payment_link", kwargs={"token": payment_link_token(link)}))


def payment_link_send(*, order: Order, actor) -> PaymentLink:
    """Create a payment link for `order` and record "payment link sent" on its timeline; the
    e-mail to the owner is written with the event (orders.signals.order_event, event type
    PAYMENT_LINK_EVENT) and sent after commit. Raises Conflict unless the order's payment
    failed, AlreadyRetried when the customer already placed it again. The caller checked
    staff's permission (store.permissions.ORDER_CHANGE)."""
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).select_related("owner").get(pk=order.pk)
        if not payment_link_failed(order):
            raise Conflict(f"Order {order.number} is {order.get_state_display().lower()}: a payment link is only "
                           "sent for an order whose payment failed.")
        order_retry_refuse_twice(order)
        hours = settings.PAYMENT_LINK_MAX_AGE_HOURS
        link = PaymentLink.objects.create(order=order, created_by=actor,
                                          expires_at=timezone.now() + timedelta(hours=hours))
        event = OrderEvent.objects.create(
            order=order, event_type=PAYMENT_LINK_EVENT, source_state=order.state, target_state=order.state,
            actor_kind=Actor.STAFF, actor=actor, actor_email=getattr(actor, "email", "") or "",
            detail={"payment_link": link.pk, "expires_at": f"{link.expires_at:%Y-%m-%d %H:%M} UTC"},
            request_id=request_id_var.get() or "",
        )
        order_event.send(sender=Order, order=order, event=event, payment_link_url=payment_link_url(link))
    return link


def payment_link_id(token: str) -> int:
    """The id of the payment link `token` names (payment_link_token); NotFound for a token that is
    not ours or names no link."""
    try:
        link_id = signing.loads(token, salt=_LINK_SALT)
    except signing.BadSignature:
        raise NotFound("This payment link is not valid.") from None
    if type(link_id) is not int:  # signed by this shop, but not a link's id
        raise NotFound("This payment link is not valid.")
    return link_id


def order_retry_source(*, user, order_id, product_ids) -> Order | None:
    """The customer's own order a checkout retries (storefront's CHECKOUT_RETRY_OF), if it still qualifies:
    it ended offering Try again (order_retryable) and the cart (`product_ids`, its public ids) still holds one of its
    products (a cart emptied and filled with other things is a new purchase, not its retry)."""
    if not order_id:
        return None
    order = Order.objects.filter(pk=order_id, owner=user, lines__product_public_id__in=list(product_ids)).first()
    return order if order is not None and order_retryable(order) else None

