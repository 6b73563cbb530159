"""Webhooks: endpoints staff manage, the outbox rows an order event writes, and their sending.

`deliveries_record` writes one row per subscribed endpoint in the transaction that publishes
the event, with the JSON body as the order is then; `deliveries_queue` hands them to the worker
once committed. The worker (`delivery_send`) claims a row, POSTs it signed, logs the attempt
and either marks it delivered, schedules a retry (exponential backoff with jitter) or, past
WEBHOOK_RETRY_HOURS, gives it up. Rows of one (endpoint, order) go out in id order; the
dispatcher (`deliveries_dispatch`, on a schedule) sends what is due: retries, and what a broker
outage or a crash left.
"""
import contextvars
import logging
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from orders.api.serializers import OrderOutput
from orders.models import Order, OrderEvent
from providers import registry
from store import permissions
from store.circuit import redis_breaker
from store.errors import ValidationFailed
from store.links import public_url
from webhooks import metrics, signing, transport
from webhooks.events import EVENT_TYPES
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger("webhooks.services")

Status = WebhookDelivery.Status
ENDPOINT_FIELDS = ("url", "events", "enabled", "description")
SEND_TASK = "webhooks.tasks.delivery_send"
REPLAY_LIMIT = 1000  # rows per range replay: one request's UPDATE and queueing stay short


# --- endpoints ------------------------------------------------------------------------

def _checked(endpoint: WebhookEndpoint, values: dict) -> WebhookEndpoint:
    for name in ENDPOINT_FIELDS:
        if name in values:
            setattr(endpoint, name, values[name])
    endpoint.full_clean(exclude=["secret"])
    return endpoint


def endpoint_create(*, actor, **values) -> WebhookEndpoint:
    """A new endpoint from `values` (ENDPOINT_FIELDS) with a new secret, which the caller shows
    once. Raises PermissionRefused, ValidationError."""
    permissions.require(actor, permissions.WEBHOOK_MANAGE)
    endpoint = _checked(WebhookEndpoint(secret=signing.secret_new()), values)
    endpoint.save()
    return endpoint


def endpoint_update(*, endpoint: WebhookEndpoint, actor, **values) -> WebhookEndpoint:
    """`endpoint` with `values` changed: only those columns are written, to the row as it is now
    (a secret rotated or a disabling meanwhile stays). Enabling a disabled endpoint starts its run
    of failures afresh and sends its backlog, in order, each row with a full retry window."""
    permissions.require(actor, permissions.WEBHOOK_MANAGE)
    with transaction.atomic():
        current = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        was_enabled = current.enabled
        changed = [name for name in ENDPOINT_FIELDS if name in values and getattr(current, name) != values[name]]
        _checked(current, values)
        if current.enabled and not was_enabled:
            current.consecutive_failures, current.disabled_reason = 0, ""
            changed += ["consecutive_failures", "disabled_reason"]
            # An attempt under way keeps its claim: the row is due again, not sent twice at once.
            current.deliveries.filter(status=Status.PENDING).update(first_attempt_at=None,
                                                                    next_attempt_at=timezone.now())
            transaction.on_commit(lambda: deliveries_dispatch(endpoint_id=current.pk), robust=True)
        if changed:
            current.save(update_fields=changed)
    return current


def endpoint_secret_rotate(*, endpoint: WebhookEndpoint, actor) -> WebhookEndpoint:
    """A new secret for `endpoint` (the caller shows it once); attempts from now on are signed with it."""
    permissions.require(actor, permissions.WEBHOOK_MANAGE)
    endpoint.secret = signing.secret_new()
    endpoint.save(update_fields=["secret"])
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint, actor) -> None:
    """Delete `endpoint` with its deliveries and their log."""
    permissions.require(actor, permissions.WEBHOOK_MANAGE)
    endpoint.delete()


# --- the outbox -----------------------------------------------------------------------

def event_body(*, order: Order, event: OrderEvent, message_id: str) -> str:
    """The JSON a receiver gets: `{"id", "type", "createdAt", "data": the order as the API shows it}`,
    and for the carrier's tracking update an event carries, `tracking`: `{"status", "description",
    "location", "occurredAt"}`."""
    body = {
        "id": message_id,
        "type": event.event_type,
        "createdAt": serializers.DateTimeField().to_representation(event.created_at),
        "data": OrderOutput(order).data,
    }
    detail = event.detail or {}
    if detail.get("tracking"):
        body["tracking"] = {"status": detail["tracking"], "description": detail.get("description", ""),
                            "location": detail.get("location", ""), "occurredAt": detail.get("occurred_at", "")}
    return JSONRenderer().render(body).decode()


# The endpoints read once within `endpoints_read_once`'s block (None outside one).
_endpoints_held: contextvars.ContextVar[dict | None] = contextvars.ContextVar("webhooks_endpoints_held", default=None)


@contextmanager
def endpoints_read_once() -> Iterator[None]:
    """Within the block (one pipeline run, which publishes several events), the endpoints are
    read at the first published event and kept for the others; the next block reads them anew."""
    token = _endpoints_held.set({})
    try:
        yield
    finally:
        _endpoints_held.reset(token)


def endpoints_forget() -> bool:
    """Within `endpoints_read_once`'s block, read the endpoints anew at the next published event;
    True when some were kept (an endpoint deleted since makes a delivery row of theirs fail its
    transaction's commit)."""
    held = _endpoints_held.get()
    return held is not None and held.pop("endpoints", None) is not None


def _endpoints() -> list[WebhookEndpoint]:
    held = _endpoints_held.get()
    if held is None:
        return list(WebhookEndpoint.objects.all())
    if "endpoints" not in held:
        held["endpoints"] = list(WebhookEndpoint.objects.all())
    return held["endpoints"]


def deliveries_record(*, order: Order, event: OrderEvent) -> list[int]:
    """Write a delivery of `event` to every endpoint subscribed to it (a disabled one keeps it
    for when it is enabled again). Call it inside the transaction that wrote `event`. Returns
    the rows' ids."""
    if event.event_type not in EVENT_TYPES:  # a step within the pipeline, not a published event
        return []
    endpoints = [endpoint for endpoint in _endpoints() if endpoint.wants(event.event_type)]
    if not endpoints:
        return []
    message_id = f"msg_{uuid.uuid4().hex}"
    # Read again: the caller's instance may lag behind what its transaction wrote with .update().
    order = Order.objects.get(pk=order.pk)
    body = event_body(order=order, event=event, message_id=message_id)
    now = timezone.now()
    rows = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint=endpoint, order=order, event=event, event_type=event.event_type,
                        message_id=message_id, body=body, next_attempt_at=now)
        for endpoint in endpoints
    )
    return [row.pk for row in rows]


def deliveries_queue(delivery_ids: list[int]) -> None:
    """Queue a send task per row. A broker that refuses is logged: the rows wait in the database,
    and the dispatcher sends them."""
    for delivery_id in delivery_ids:
        try:
            redis_breaker().call(async_task, SEND_TASK, delivery_id, task_name=f"webhook-{delivery_id}",
                                 group="webhooks", save=False, sync=settings.PIPELINE_TASKS_SYNC)
        except Exception as exc:  # the row is the outbox: nothing is lost
            logger.warning("webhook delivery %s left to the dispatcher: %s", delivery_id, exc.__class__.__name__)
            return


def _due(now: datetime):
    earlier = WebhookDelivery.objects.filter(endpoint=OuterRef("endpoint"), order=OuterRef("order"),
                                             status=Status.PENDING, pk__lt=OuterRef("pk"))
    return (WebhookDelivery.objects.filter(status=Status.PENDING, endpoint__enabled=True, next_attempt_at__lte=now)
            .filter(Q(claimed_until=None) | Q(claimed_until__lt=now)).exclude(Exists(earlier)))


def _due_still(now: datetime, pk: int, **seen):
    """Row `pk` if it is due and its columns still hold `seen` (as read): what a write that
    takes the row over (a claim, settling a stopped attempt) updates. `seen` is compared in the
    UPDATE's own WHERE: `_due` joins the endpoint, so Django writes it as `id IN (subquery)`,
    which PostgreSQL reads from the statement's snapshot; when a concurrent claim's write
    commits meanwhile, only the updated table's own conditions are checked again on the new
    row, and a `seen` inside the subquery would let two senders both take one attempt."""
    return WebhookDelivery.objects.filter(pk__in=_due(now).filter(pk=pk).values("pk"), pk=pk, **seen)


def deliveries_dispatch(*, endpoint_id: int | None = None, now: datetime | None = None, limit: int = 500) -> int:
    """Queue the rows due now that are first of their (endpoint, order) (the scheduled
    dispatcher; also after an endpoint is enabled). Returns how many."""
    due = _due(now or timezone.now())
    if endpoint_id is not None:
        due = due.filter(endpoint_id=endpoint_id)
    ids = list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
    deliveries_queue(ids)
    return len(ids)


def _backoff(attempts: int) -> timedelta:
    """Exponential from WEBHOOK_BACKOFF_SECONDS, capped, with jitter (half to all of it)."""
    ceiling = min(settings.WEBHOOK_BACKOFF_MAX_SECONDS, settings.WEBHOOK_BACKOFF_SECONDS * 2 ** (attempts - 1))
    return timedelta(seconds=ceiling * random.uniform(0.5, 1.0) * settings.PIPELINE["BACKOFF_SCALE"])


# A row's last_error while an attempt is under way: it stays if the worker stopped the attempt
# (Q_TIMEOUT) or its process died, and the next claim counts that attempt as failed.
UNFINISHED = "No answer recorded yet: the attempt is under way, or the worker stopped it."
STOPPED = "The attempt did not finish: the worker stopped it."


def _claim_length() -> timedelta:
    """Longer than the longest attempt (one WEBHOOK_TIMEOUT_SECONDS deadline) with its writes."""
    return timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + 60)


def _window_end(first: datetime | None, now: datetime) -> datetime:
    return (first or now) + timedelta(hours=settings.WEBHOOK_RETRY_HOURS)


def _failure_counted(endpoint_id: int) -> bool:
    """One more failed attempt in a row for the endpoint; whether that disabled it."""
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(consecutive_failures=F("consecutive_failures") + 1)
    return _disable_if_failing(endpoint_id)


def _stopped_settle(row: WebhookDelivery, now: datetime) -> str:
    """The row's last attempt never finished: count it as a failed one (toward the endpoint's
    failures in a row and the row's retry window; its backoff was set when it was claimed).
    Returns "retrying", "given_up", or "" when someone else settled it."""
    retry_at = max(row.next_attempt_at, now)
    outcome = "given_up" if retry_at > _window_end(row.first_attempt_at, now) else "retrying"
    changes = {"status": Status.FAILED, "claimed_until": None} if outcome == "given_up" else {}
    if not _due_still(now, row.pk, attempts=row.attempts, last_error=UNFINISHED).update(
            last_error=STOPPED, **changes):
        return ""
    WebhookAttempt.objects.filter(delivery_id=row.pk, number=row.attempts, error=UNFINISHED).update(error=STOPPED)
    metrics.delivery_counted(outcome)
    _failure_counted(row.endpoint_id)
    if outcome == "given_up":
        _next_queue(row)
    return outcome


def delivery_send(delivery_id: int) -> str:
    """The worker's: send one row if it is due, first of its (endpoint, order) and nobody else
    holds it. Returns "delivered", "retrying", "given_up" or "" (not sent now).

    The claim records the attempt (its number, the row's first attempt and the backoff before
    the next one), so an attempt the worker kills still counts; its token guards the final
    write, so an attempt whose claim was taken over changes nothing but its own log line."""
    now = timezone.now()
    row = _due(now).filter(pk=delivery_id).first()
    if row is not None and row.last_error == UNFINISHED:
        settled = _stopped_settle(row, now)
        if settled != "retrying":
            return settled
        row = _due(now).filter(pk=delivery_id).first()  # the endpoint may be disabled now
    if row is None:
        return ""
    token, attempts, first = uuid.uuid4().hex, row.attempts + 1, row.first_attempt_at or now
    with transaction.atomic():
        if not _due_still(now, delivery_id, attempts=row.attempts).update(
                claim_token=token, claimed_until=now + _claim_length(), attempts=attempts, first_attempt_at=first,
                next_attempt_at=now + _backoff(attempts), last_error=UNFINISHED):
            return ""
        attempt = WebhookAttempt.objects.create(delivery_id=delivery_id, number=attempts, error=UNFINISHED)
    endpoint = WebhookEndpoint.objects.get(pk=row.endpoint_id)
    body = row.body.encode()
    headers = signing.headers(secret=endpoint.secret, message_id=row.message_id,
                              timestamp=int(timezone.now().timestamp()), body=body)
    answer = transport.post(endpoint.url, body, headers)
    mine = WebhookDelivery.objects.filter(pk=delivery_id, claim_token=token)
    with transaction.atomic():
        WebhookAttempt.objects.filter(pk=attempt.pk).update(status_code=answer.status, latency_ms=answer.latency_ms,
                                                            ok=answer.ok, error=answer.error)
        if answer.ok:
            outcome = "delivered"
            written = mine.update(status=Status.DELIVERED, delivered_at=timezone.now(), claimed_until=None,
                                  last_error="")
        else:
            retry_at = timezone.now() + _backoff(attempts)
            outcome = "given_up" if retry_at > _window_end(first, now) else "retrying"
            written = mine.update(status=Status.FAILED if outcome == "given_up" else Status.PENDING,
                                  next_attempt_at=retry_at, claimed_until=None, last_error=answer.error)
    if not written:
        logger.warning("webhook delivery %s: attempt %s dropped, the row was deleted or claimed again",
                       delivery_id, attempts)
        return ""
    metrics.delivery_counted(outcome)
    if answer.ok:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
    else:
        _failure_counted(endpoint.pk)
    if outcome != "retrying":  # the order's next event for this endpoint may go now
        _next_queue(row)
    return outcome


def _next_queue(delivery: WebhookDelivery) -> None:
    following = (_due(timezone.now()).filter(endpoint_id=delivery.endpoint_id, order_id=delivery.order_id)
                 .order_by("pk").values_list("pk", flat=True).first())
    if following is not None:
        deliveries_queue([following])


def _disable_if_failing(endpoint_id: int) -> bool:
    """At WEBHOOK_DISABLE_AFTER failures in a row: disable the endpoint (its rows wait) and e-mail
    the staff who manage webhooks, once. Whether it disabled it now."""
    limit = settings.WEBHOOK_DISABLE_AFTER
    reason = f"Disabled after {limit} failed attempts in a row."
    if not WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True, consecutive_failures__gte=limit).update(
            enabled=False, disabled_reason=reason):
        return False
    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    logger.warning("webhook endpoint %s disabled after %s failures in a row", endpoint.url, limit)
    subject = f"Webhook endpoint disabled: {endpoint.url}"
    last = WebhookAttempt.objects.filter(delivery__endpoint=endpoint).order_by("-pk").values_list("error", flat=True)
    body = (f"The webhook endpoint {endpoint.url} failed {limit} attempts in a row (last: {last.first()}) "
            "and was disabled. Its deliveries wait; enable it again once it answers, and they go out in order.\n"
            f"{public_url(reverse('admin:webhooks_webhookendpoint_change', args=[endpoint.pk]))}\n")
    for address in webhook_managers():
        try:
            registry.notification().send(key=f"webhook-disabled-{endpoint.pk}-{address}-{uuid.uuid4().hex[:8]}",
                                         to=address, subject=subject, body=body)
        except Exception as exc:  # the admin shows the endpoint disabled, with why
            logger.error("notice of disabled webhook endpoint %s to %s not sent: %s", endpoint.pk, address, exc)
    return True


def webhook_managers() -> list[str]:
    """Addresses of the active staff who may manage webhooks."""
    app_label, codename = permissions.WEBHOOK_MANAGE.permission.split(".")
    granted = Permission.objects.filter(codename=codename, content_type__app_label=app_label)
    return [email for email in get_user_model().objects.filter(is_active=True, is_staff=True)
            .filter(Q(is_superuser=True) | Q(user_permissions__in=granted) | Q(groups__permissions__in=granted))
            .distinct().order_by("email").values_list("email", flat=True) if email]


# --- replay ---------------------------------------------------------------------------

def _replay(rows, actor) -> int:
    permissions.require(actor, permissions.WEBHOOK_MANAGE)
    ids = list(rows.values_list("pk", flat=True))
    with transaction.atomic():
        count = WebhookDelivery.objects.filter(pk__in=ids).update(
            status=Status.PENDING, next_attempt_at=timezone.now(), first_attempt_at=None, delivered_at=None)
        transaction.on_commit(lambda: deliveries_queue(ids), robust=True)
    return count


def delivery_replay(*, delivery: WebhookDelivery, actor) -> int:
    """Send `delivery` again: the same body and webhook-id, after any earlier row of its order
    still pending. Returns 1."""
    return _replay(WebhookDelivery.objects.filter(pk=delivery.pk), actor)


def deliveries_replay(*, endpoint: WebhookEndpoint, since: datetime, until: datetime, actor) -> int:
    """Send again every delivery of `endpoint` whose event was recorded in [since, until), at
    most REPLAY_LIMIT of them (ValidationFailed beyond: a narrower range). Returns how many."""
    permissions.require(actor, permissions.WEBHOOK_MANAGE)
    rows = endpoint.deliveries.filter(created_at__gte=since, created_at__lt=until)
    if rows[:REPLAY_LIMIT + 1].count() > REPLAY_LIMIT:
        raise ValidationFailed(f"At most {REPLAY_LIMIT} deliveries can be replayed at once; give a narrower range.",
                               fields={"until": [f"The range holds more than {REPLAY_LIMIT} deliveries."]})
    return _replay(rows, actor)
