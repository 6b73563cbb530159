"""What an order transition means, declared once, on the transition itself.

Each transition of `orders.models.Order` carries a `Meaning` in django-fsm's `custom=` and
says who may fire it in `permission=` (`store.permissions`: SYSTEM, a StaffAction, or
OwnerOr). Everything else is derived from that declaration (`orders.states`): the published
events, the customer's timeline, the admin's buttons, the API's allowed actions, and the
cancellable, refundable, waiting and terminal states.
"""
from collections.abc import Callable
from dataclasses import dataclass
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
