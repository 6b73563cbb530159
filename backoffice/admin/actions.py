"""What staff may do to an order: the order page's buttons, the bulk actions and the re-drive."""
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from orders.models import Order
from orders.services import order_act, order_redrive, order_retry
from orders.states import (
    FULL_REFUND_TRANSITION,
    TERMINAL_STATES,
    TRANSITIONS,
    WORKING_STATES,
    OrderState,
    meaning,
    person_transitions,
    transitions_from,
)
from store import permissions
from store.permissions import SYSTEM, StaffAction

S = OrderState


# --- What staff may do to an order --------------------------------------------------------


@dataclass(frozen=True)
class OrderAction:
    """A button on the order page: the service it calls, who may press it, and when.

    Every button but one is a person's transition (orders.states.person_transitions): its
    label, permission, confirmation and wording come from the transition's declaration. The
    one that is not, "Retry step", hands a seemingly stuck order back to the pipeline.
    """

    name: str
    label: str
    done: str
    permission: StaffAction
    run: Callable[..., Order]
    transition: str = ""
    states: frozenset[str] = field(default_factory=frozenset)
    confirm: bool = False
    default_message: str = ""
    hint: str = ""

    @classmethod
    def of_transition(cls, name: str) -> "OrderAction":
        declared, said = TRANSITIONS[name], meaning(name)
        permission = declared.permission
        return cls(
            name, said.label, said.done, getattr(permission, "action", permission),
            run=lambda *, order, actor, note="", customer_message="": order_act(
                order=order, name=name, actor=actor, note=note, customer_message=customer_message
            ),
            transition=name, confirm=said.confirm, default_message=said.default_reason,
        )

    @property
    def dangerous(self) -> bool:
        return self.confirm

    def offered_to(self, user, order: Order) -> bool:
        """Whether the page shows this button to `user`: a transition the declaration lets them
        fire on this order now (never a decision on their own order), or "Retry step" where its
        permission and the order's state say so."""
        if self.transition:
            return any(edge.name == self.transition for edge in person_transitions(order, user))
        return permissions.can(user, self.permission) and self.is_available(order)

    def is_available(self, order: Order) -> bool:
        if self.transition:
            return any(t.name == self.transition for t in order.get_available_state_transitions())
        return order.state in self.states

    def refusal(self, order: Order) -> str:
        return f"Order {order.number} is {order.get_state_display().lower()}: it cannot be {self.done} now."


# In the order the page shows them: what moves the order on, then what ends it.
ORDER_ACTIONS = {
    action.name: action
    for action in sorted((
        *(OrderAction.of_transition(name) for name, declared in TRANSITIONS.items()
          if declared.permission is not SYSTEM and meaning(name).button),
        # A working state with no failure to retry: hand the order back to the pipeline (stuck orders).
        OrderAction(
            "retry_step", "Retry step", "retried", permissions.ORDER_CHANGE,
            run=lambda *, order, actor, **_: order_retry(order=order, actor=actor),
            states=frozenset(state for state in WORKING_STATES
                             if not any(meaning(t.name).action == "retry" for t in transitions_from(state))),
            hint="Run the order's current step again (steps are idempotent): for an order stuck in this state.",
        ),
    ), key=lambda action: bool(action.transition) and TRANSITIONS[action.transition].target in TERMINAL_STATES)
}


# The bulk re-drive: each order goes back to the step it stalled in (order_redrive picks the
# transition; the order page shows that transition's own button, "Re-drive payment").
REDRIVE = OrderAction(
    "redrive", "Re-drive", "re-driven", permissions.ORDER_CHANGE,
    run=lambda *, order, actor, **_: order_redrive(order=order, actor=actor),
    states=frozenset({S.STALLED}),
)


# --- What the order page's heading says -----------------------------------------------------


@dataclass(frozen=True)
class OrderOptions:
    """What a staff member may do to an order from its state, for the heading over its actions.

    `state`: the state's name for people. `may`: the labels of what they may do (the buttons,
    and "Refund" when a refund is left to make). `missing`: for each permission they lack, the
    sentence naming it and who grants it (store.permissions.missing_text). `not_own`: the labels
    of what they hold the permission for but may not do on their own order.
    """

    state: str
    may: tuple[str, ...]
    missing: tuple[str, ...]
    not_own: tuple[str, ...]

    @property
    def heading(self) -> str:
        if self.may:
            return f"What you can do from “{self.state}”: {', '.join(self.may)}"
        if self.missing or self.not_own:
            return f"Nothing you can do from “{self.state}”"
        return f"Nothing to do from “{self.state}”"


def order_options(user, order: Order, *, also: Sequence[str] = ()) -> OrderOptions:
    """What `user` may do to `order` now, read from the declarations: every person's transition
    the state allows (its `permission=`, `not_own`; a refund only while money is left to give
    back) and "Retry step" (ORDER_ACTIONS). Owners may cancel their own orders (OwnerOr).
    `also`: the labels of the page's other buttons the user was given (a payment link…), listed
    after those."""
    own = user.pk == order.owner_id
    # The buttons in the page's order, then what has a form of its own (the refund).
    offered = [(action.label, action.permission, action.transition) for action in ORDER_ACTIONS.values()
               if action.is_available(order)]
    offered += [(meaning(edge.name).label, getattr(edge.permission, "action", edge.permission), edge.name)
                for edge in order.get_available_state_transitions()
                if edge.permission is not SYSTEM and not meaning(edge.name).button
                and not (edge.name in FULL_REFUND_TRANSITION.values() and order.refundable_amount <= 0)]
    fireable = {edge.name for edge in order.get_available_user_state_transitions(user)}
    may, missing, not_own = [], {}, []
    for label, needed, transition in offered:
        allowed = transition in fireable if transition else permissions.can(user, needed)
        if allowed and transition and own and meaning(transition).not_own:
            not_own.append(label)
        elif allowed:
            may.append(label)
        elif needed.permission not in missing:
            doing = meaning(transition).doing if transition else ""
            missing[needed.permission] = permissions.missing_text(needed, doing)
    return OrderOptions(state=order.get_state_display(), may=tuple(dict.fromkeys([*may, *also])),
                        missing=tuple(missing.values()), not_own=tuple(dict.fromkeys(not_own)))
