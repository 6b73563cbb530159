"""What an order transition means, declared once, on the transition itself.

Each transition of `orders.models.Order` carries a `Meaning` in django-fsm's `custom=` and
says who may fire it in `permission=` (`store.permissions`: SYSTEM, a StaffAction, or
OwnerOr). Everything else is derived from that declaration (`orders.states`): the published
events, the customer's timeline, the admin's buttons, the API's allowed actions, and the
cancellable, refundable, waiting and terminal states.
"""
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

# Timeline statuses a transition can give a stage (orders.selectors.TimelineStage).
DONE, CURRENT, FAILED, CANCELLED, REFUNDED = "done", "current", "failed", "cancelled", "refunded"
SKIPPED = "skipped"  # passed over: the order went on without this stage
OMITTED = "omitted"  # not part of this order's pipeline (its workflow version switched the step off): not shown


@dataclass(frozen=True)
class Meaning:
    """What firing a transition means.

    - `label`: its name for people (buttons, the trace, refusals), e.g. "Approve".
    - `event`: the event it publishes (`OrderEvent.event_type`, the customer's notification),
      e.g. "order.paid"; "" publishes nothing.
    - `stages`: the timeline stages it sets, as (stage key, status) pairs, in order.
    - `note`: the customer's sentence on those stages: a str formatted with the event's detail
      and the order's fields (`{reason}`, `{carrier}`…), or a callable (order, detail) → str.
      Without one, a failed or cancelled stage shows the reason.
    - `action`: for a transition people fire, the action that fires it on the API
      (`/api/orders/{id}/<action>`) and in the admin; "" for the pipeline's own.
    - `done`: the past tense for staff's messages ("approved").
    - `doing`: what someone without its permission is told they may not do ("retry orders");
      "" for the permission's own description (`store.permissions.StaffAction.refusal_to`).
    - `confirm`: staff confirm it on a page that asks for an internal note and a message to
      the customer, who reads `default_reason` without one.
    - `not_own`: staff may not fire it on their own orders (a second person decides).
    - `button`: shown as a button on the admin's order page (refunds have their own form).
    - `waits`: the order then waits for a person; the pipeline leaves it alone (a hold).
    - `after_end`: may also follow the end of an order (a refund of a delivered order); a
      state whose every way out is such a transition is terminal.
    - `next_step`: what the customer reads and may do once this transition ended the order or
      made it wait (`NextStep`; orders.selectors.order_next_step): every transition into a
      terminal or waiting state declares one.
    """

    label: str
    event: str = ""
    stages: tuple[tuple[str, str], ...] = ()
    note: str | Callable[[Any, dict], str] = ""
    action: str = ""
    done: str = ""
    doing: str = ""
    confirm: bool = False
    default_reason: str = ""
    not_own: bool = False
    button: bool = True
    waits: bool = False
    after_end: bool = False
    next_step: "NextStep | None" = None


class Option(Enum):
    """What a customer can do about an order that ended or waits, with the words of its control
    (the order page's button or link, the e-mail's link). `then`, for the order's Try again (its
    items back in the cart, its address in the checkout): what the checkout is for."""

    ANOTHER_CARD = ("another_card", "Try again", "pay with another card to place it again")
    CORRECT_ADDRESS = ("correct_address", "Correct the address", "correct the address to place it again")
    CONTACT_SHOP = ("contact_shop", "Contact the shop", "")
    SHOP_AGAIN = ("shop_again", "Shop again", "")

    def __init__(self, key: str, label: str, then: str) -> None:
        self.key, self.label, self.then = key, label, then

    @property
    def try_again(self) -> bool:
        return bool(self.then)


@dataclass(frozen=True)
class NextStep:
    """The customer's next step after an ending or a wait: `advice`, the sentence they read (on
    the order page and in the e-mail, after the one about the money), and `options`, the
    controls offered, the main one first (none: nothing is needed from them).

    A transition fired either by its customer or by the shop, or leaving from several states,
    may say more: `by_shop` replaces it when the shop's staff fired the transition, and
    `after` when it left from the state named there (`NextStep.unless`).
    """

    advice: str
    options: tuple[Option, ...] = ()
    by_shop: "NextStep | None" = None
    after: tuple[tuple[str, "NextStep"], ...] = field(default=())

    def unless(self, *, by_shop: "NextStep | None" = None, after: dict[str, "NextStep"] | None = None) -> "NextStep":
        """This step, replaced by `by_shop` when the shop's staff fired the transition and by
        `after[state]` when it left from that state: `next_step=SHOP_AGAIN.unless(by_shop=CONTACT_SHOP)`."""
        return NextStep(self.advice, self.options, by_shop, tuple((after or {}).items()))

    def resolve(self, *, by_shop: bool, source: str) -> "NextStep":
        """The step for one firing: who fired it (`by_shop`), the state it left (`source`)."""
        if by_shop and self.by_shop is not None:
            return self.by_shop
        return dict(self.after).get(source, NextStep(self.advice, self.options))

    def variants(self) -> Iterator["NextStep"]:
        """Every step a firing may resolve to."""
        yield NextStep(self.advice, self.options)
        if self.by_shop is not None:
            yield self.by_shop
        for _, step in self.after:
            yield step

    @property
    def try_again(self) -> Option | None:
        """The Try again option offered, if any (its label says what the checkout is for)."""
        return next((option for option in self.options if option.try_again), None)


def means(label: str, **meaning: Any) -> dict[str, Meaning]:
    """The `custom=` of a transition: `@transition(..., custom=means("Approve", event=…))`."""
    return {"meaning": Meaning(label, **meaning)}


@dataclass(frozen=True)
class Stage:
    """One stage of the customer's timeline (`orders.models.TIMELINE`); `when_reached`: shown
    only once a transition set it (approval, refund, cancellation), else always."""

    key: str
    label: str
    when_reached: bool = False
