"""Holds: an order waiting in awaiting approval, with why, who looks at it and until when.

A hold opens with the transition that holds the order (a rule's, or the pipeline's own when
risk screening is unavailable) and ends with the transition that takes the order out (staff
approve or reject, the customer cancels, the deadline decides); both are written in that
transition's transaction (workflows.receivers). `holds_expire` runs on the sweeper's schedule:
each hold past its deadline gets its expiry action once, also when two runs race, because
the claim (setting `expired_at`) and the action commit together under the order's row lock.
"""
import logging
from datetime import datetime, timedelta

from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from orders.models import SHOP_REJECTED_TEXT, Order, OrderEvent
from orders.services import order_transition
from orders.states import OrderState
from providers import registry
from providers.calls import ProviderRequest, call_recorded
from store import permissions
from store.audit import staff_action_record
from store.errors import PermissionRefused
from store.links import public_url
from store.money import money
from workflows import outbox
from workflows.models import Hold, HoldExpiry, RuleEvaluation
from workflows.policy.selectors import policy_for_order
from workflows.queueing import pipeline_enqueue
from workflows.review.evaluate import review_evaluate

logger = logging.getLogger("workflows.holds")

# What staff read for a hold the pipeline made itself, by the transition that made it.
SYSTEM_REASONS = {"risk_unavailable": "Risk screening was unavailable: look at the order yourself"}
EXPIRE_BATCH = 200  # holds handled per run, earliest deadline first
HOLD_REMIND_TASK = "workflows.review.holds.hold_remind"


def hold_open(*, order: Order, event: OrderEvent, now: datetime | None = None) -> Hold:
    """The hold `event` (a transition into awaiting approval) puts on `order`: its rule, reason,
    deadline and expiry action come from the evaluation the event names (else the rule's name
    it gives is the reason), under the defaults of the order's workflow version (`holds`). A hold of the
    pipeline's own (SYSTEM_REASONS) records what the rules say of the order and only reminds."""
    now = now or timezone.now()
    evaluation_id = event.detail.get("evaluation")
    evaluation = (RuleEvaluation.objects.select_related("rule").filter(pk=evaluation_id).first()
                  if evaluation_id else None)
    rule = evaluation.rule if evaluation else None
    rule_name = rule.name if rule else str(event.detail.get("rule", ""))
    if not rule_name:
        # The pipeline's own hold skipped the review (risk screening did not answer): staff read what
        # the rules say of the order, and its deadline only ever reminds, never decides.
        evaluation = review_evaluate(order)
        evaluation.applied = False
        evaluation.save()
    policy = policy_for_order(order)
    hours = (rule.hold_hours if rule else None) or policy.hold_hours
    hold, _ = Hold.objects.update_or_create(order=order, defaults={
        "rule": rule,
        "rule_name": rule_name,
        "reason": (rule.reason or rule.name) if rule else rule_name or SYSTEM_REASONS.get(event.transition,
                                                                                          "Held by the pipeline"),
        "system": not rule_name,
        "evaluation": evaluation,
        "deadline": now + timedelta(hours=hours),
        "expiry_action": (HoldExpiry.REMIND if not rule_name else
                          (rule.expiry_action if rule else "") or policy.hold_expiry_action),
        "customer_message": rule.customer_message if rule else "",
        "created_at": now,
        "expired_at": None, "expiry_outcome": "", "resolved_at": None, "resolution": "", "resolved_by": None,
    })
    return hold


def hold_resolve(*, order: Order, event: OrderEvent) -> int:
    """The order left awaiting approval by `event`'s transition: its hold ends. Returns 1, or 0
    when it had none."""
    return Hold.objects.filter(order=order, resolved_at__isnull=True).update(
        resolved_at=event.created_at, resolution=event.transition, resolved_by=event.actor)


def hold_assign(*, order_id: int, assignee: User | None, actor: User) -> Hold:
    """Give the order's open hold to `assignee` (None: to nobody). Staff who may approve orders
    only, and only to one of them. Raises PermissionRefused, Hold.DoesNotExist (no open hold)."""
    permissions.require(actor, permissions.ORDER_APPROVE, doing="assign held orders")
    if assignee is not None and not permissions.can(assignee, permissions.ORDER_APPROVE):
        raise PermissionRefused(f"{assignee.email} may not approve orders, so cannot be assigned one.")
    with transaction.atomic():
        hold = Hold.objects.select_for_update(of=("self",)).select_related("assignee").get(
            order_id=order_id, resolved_at__isnull=True)
        before = hold.assignee.email if hold.assignee_id else ""
        hold.assignee = assignee
        hold.save(update_fields=["assignee"])
        staff_action_record(actor=actor, obj=hold, action="assign",
                            changes={"assignee": [before, assignee.email if assignee else ""]},
                            detail={"order": order_id})
    return hold


def hold_approvers(hold: Hold) -> list[str]:
    """Addresses a reminder goes to: the assignee and every active staff member who may approve."""
    app_label, codename = permissions.ORDER_APPROVE.permission.split(".")
    granted = Q(codename=codename, content_type__app_label=app_label)
    approvers = (User.objects.filter(is_active=True, is_staff=True)
                 .filter(Q(is_superuser=True) | Q(user_permissions__in=Permission.objects.filter(granted))
                         | Q(groups__permissions__in=Permission.objects.filter(granted)))
                 .distinct().order_by("email").values_list("email", flat=True))
    addresses = [hold.assignee.email] if hold.assignee_id and hold.assignee.email else []
    addresses += [email for email in approvers if email]
    return list(dict.fromkeys(addresses))


def hold_remind(hold_id: int) -> int:
    """The task the deadline queues: e-mail the reminder of a hold that is still open to its
    assignee and the approvers. A mail server that fails is logged; the hold stays overdue in the
    approval queue and Needs attention, which is what the reminder points to. Returns how many
    e-mails went out."""
    hold = Hold.objects.select_related("order", "assignee").filter(pk=hold_id, resolved_at__isnull=True).first()
    if hold is None:
        return 0
    order = hold.order
    subject = f"Order {order.number} is past its review deadline"
    body = (f"Order {order.number} ({money(order.total)}) has waited for approval since "
            f"{hold.created_at:%Y-%m-%d %H:%M} UTC; its deadline was {hold.deadline:%Y-%m-%d %H:%M} UTC.\n"
            f"Why it is held: {hold.reason}\n"
            f"Approve or reject it: {public_url(reverse('admin:orders_order_change', args=[order.pk]))}\n")
    addresses, sent = hold_approvers(hold), 0
    for address in addresses:
        key = f"hold-{hold.pk}-reminder-{address}"
        try:
            call_recorded(ProviderRequest("notification", "send", key, order.pk), lambda address=address, key=key:
                          registry.notification().send(key=key, to=address, subject=subject, body=body))
            sent += 1
        except Exception as exc:  # the provider's failure, whatever it is: logged, the queue still shows it
            logger.error("hold reminder for order %s to %s not sent: %s", order.pk, address, exc,
                         extra={"order_id": order.pk})
    Hold.objects.filter(pk=hold.pk).update(
        expiry_outcome=f"Approvers reminded by e-mail ({sent} of {len(addresses)} sent); still waiting")
    return sent


def hold_expire(*, hold_id: int, now: datetime | None = None) -> str:
    """Run the expiry action of one hold past its deadline, once. Returns what it did ("" when
    another run did it first, or the hold ended meanwhile)."""
    now = now or timezone.now()
    with transaction.atomic():
        order_id = Hold.objects.filter(pk=hold_id).values_list("order_id", flat=True).first()
        # The order's row lock first, as every transition takes it: a staff decision waits for
        # this run or this run for it, never both for each other.
        Order.objects.select_for_update(of=("self",)).filter(pk=order_id).values_list("pk", flat=True).first()
        claimed = Hold.objects.filter(pk=hold_id, expired_at__isnull=True, resolved_at__isnull=True,
                                      deadline__lte=now).update(expired_at=now)
        if not claimed:
            return ""
        hold = Hold.objects.select_related("order", "assignee").get(pk=hold_id)
        detail = {"hold": hold.pk, "deadline": hold.deadline.isoformat()}
        if hold.expiry_action == HoldExpiry.APPROVE:
            order_transition(order_id=order_id, name="auto_approve", only_from=OrderState.AWAITING_APPROVAL,
                             detail=detail)
            transaction.on_commit(lambda: pipeline_enqueue(order_id=order_id))
            outcome = "Approved at the deadline"
        elif hold.expiry_action == HoldExpiry.CANCEL:
            order_transition(order_id=order_id, name="auto_reject", only_from=OrderState.AWAITING_APPROVAL,
                             detail=detail, reason=hold.customer_message or SHOP_REJECTED_TEXT)
            outcome = "Cancelled at the deadline"
        else:
            # From a task of its own: a slow mail server never holds up the sweeper.
            transaction.on_commit(lambda: outbox.enqueue(HOLD_REMIND_TASK, hold_id, task_name=f"hold-remind-{hold_id}",
                                                         group="hold-reminders"), robust=True)
            outcome = "Reminder to the approvers queued; still waiting"
        Hold.objects.filter(pk=hold_id).update(expiry_outcome=outcome)
    logger.info("hold on order %s past its deadline: %s", order_id, outcome, extra={"order_id": order_id})
    return outcome


def holds_expire(*, now: datetime | None = None) -> int:
    """Scheduled (the sweeper): run the expiry action of every open hold past its deadline,
    earliest first, EXPIRE_BATCH per run. Returns how many it ran."""
    now = now or timezone.now()
    due = list(Hold.objects.filter(resolved_at__isnull=True, expired_at__isnull=True, deadline__lte=now)
               .order_by("deadline", "id").values_list("pk", flat=True)[:EXPIRE_BATCH])
    ran = 0
    for hold_id in due:
        try:
            ran += bool(hold_expire(hold_id=hold_id, now=now))
        except Exception:  # one hold that fails (and rolled back) never keeps the others waiting
            logger.exception("the expiry of hold %s failed; it is tried again on the next sweep", hold_id)
    return ran
