"""Reading workflow versions: a version's policy by number, the current one, an order's.

A published version never changes and its number is never given again, so each process keeps
the policies it read by number for good (`policy_of`: a query the first time only). The
current version's number is read with one indexed query; `policy_current` reuses it for
WORKFLOW_READ_CACHE_SECONDS (the shared limits, circuits and bulkheads, follow a publication
within that), `version_current_number` reads it now (placement stamps it on each order).

Version 1 is fixtures/workflow.yaml: a data migration stores it, and a database without any
version (a test database its test emptied) still runs on the file's policy, numbered 1.
"""
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

import yaml
from django.conf import settings

from orders.workflow import workflow_register
from providers.breakers import circuit_limits_register
from workflows.models import WorkflowVersion
from workflows.policy.schema import merged, policy_clean, structure
from workflows.policy.values import Policy

DEFAULT_POLICY_FILE = Path(settings.BASE_DIR) / "fixtures" / "workflow.yaml"
FIRST = 1

_lock = threading.Lock()
_policies: dict[int, Policy] = {}
_current: list[tuple[float, int]] = []  # (monotonic time read, number)
# A dry run's policy (workflows.policy.dryrun): every order's and the current one, in its context.
_overridden: ContextVar[Policy | None] = ContextVar("workflow_policy_overridden", default=None)


@cache
def _default_policy() -> dict:
    return policy_clean(yaml.safe_load(DEFAULT_POLICY_FILE.read_text()))


def policy_default() -> dict:
    """The policy in fixtures/workflow.yaml, checked (ValidationError when the file is wrong)."""
    return _default_policy()


def policy_completed(data: dict) -> dict:
    """A stored policy as the pipeline's steps are now: a step (or a value) added to the code
    after the version was published takes fixtures/workflow.yaml's values; a step the code no
    longer has is left out, and so is a section or a step that is not an object. What every
    reader of a stored policy goes through (the pipeline, the admin, the API, the diagram)."""
    default = policy_default()
    data = data if isinstance(data, dict) else {}
    whole = {section: merged(values, data[section]) if isinstance(data.get(section), dict) else values
             for section, values in default.items() if section != "steps"}
    steps = data.get("steps") if isinstance(data.get("steps"), dict) else {}
    return {"steps": {shape.name: merged(default["steps"][shape.name], steps[shape.name])
                      if isinstance(steps.get(shape.name), dict) else default["steps"][shape.name]
                      for shape in structure()}, **whole}


def policy_steps_filled(data: dict) -> tuple[dict, tuple[str, ...]]:
    """`data` (a policy as a file or a client gives it) with each pipeline step it lacks whole
    taken from fixtures/workflow.yaml, the values stored versions published before the step
    existed run with (`policy_completed`); and the names of the steps filled, in the pipeline's
    order. A policy exported before a step was added imports as it runs. A step that is there but
    lacks a value, or a `steps` that is not an object, is left for policy_clean to name."""
    steps = data.get("steps")
    if not isinstance(steps, dict):
        return data, ()
    missing = tuple(shape.name for shape in structure() if shape.name not in steps)
    if not missing:
        return data, ()
    default = policy_default()["steps"]
    return {**data, "steps": {**steps, **{name: default[name] for name in missing}}}, missing


def version_current_number() -> int:
    """The current version's number (the highest published), read now; 1 when none is stored."""
    number = (WorkflowVersion.objects.filter(status=WorkflowVersion.Status.PUBLISHED)
              .order_by("-number").values_list("number", flat=True).first())
    with _lock:
        _current[:] = [(time.monotonic(), number or FIRST)]
    return number or FIRST


def policy_of(number: int) -> Policy:
    """Published version `number`'s policy (read once per process). LookupError when no such
    version is stored, but for 1, which is then the file's."""
    with _lock:
        known = _policies.get(number)
    if known is not None:
        return known
    data = (WorkflowVersion.objects.filter(number=number, status=WorkflowVersion.Status.PUBLISHED)
            .values_list("policy", flat=True).first())
    if data is None:
        if number != FIRST:
            raise LookupError(f"No published workflow version {number}.")
        data = policy_default()
    policy = Policy(number, policy_completed(data))
    with _lock:
        _policies[number] = policy
    return policy


def policy_current() -> Policy:
    """The current version's policy, its number read at most every WORKFLOW_READ_CACHE_SECONDS."""
    if (overridden := _overridden.get()) is not None:
        return overridden
    with _lock:
        read = _current[0] if _current else None
    if read is None or time.monotonic() - read[0] >= settings.WORKFLOW_READ_CACHE_SECONDS:
        return policy_of(version_current_number())
    return policy_of(read[1])


def policy_for_order(order) -> Policy:
    """The policy of the version `order` was placed under (Order.workflow_version)."""
    if (overridden := _overridden.get()) is not None:
        return overridden
    return policy_of(order.workflow_version)


@contextmanager
def policy_overridden(policy: Policy) -> Iterator[None]:
    """Within the block (this thread or task), every order and the current version run on
    `policy`: a dry run's sandbox."""
    token = _overridden.set(policy)
    try:
        yield
    finally:
        _overridden.reset(token)


def policy_cache_clear() -> None:
    """Forget what this process read. Production never needs it (numbers are never given twice);
    a test suite whose tests each roll their versions back does."""
    with _lock:
        _policies.clear()
        _current.clear()


def version_revision(version: WorkflowVersion) -> str:
    """A token of what `version` holds (its policy and note): a form or a client that read the
    draft sends it back with its change, and a draft changed meanwhile refuses the change
    (workflows.policy.services.version_draft_update) instead of losing the other one."""
    held = json.dumps([version.policy, version.note], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(held.encode()).hexdigest()[:20]


def version_previous(version: WorkflowVersion) -> WorkflowVersion | None:
    """The published version before `version` (for a draft: the current one), None for the first."""
    published = WorkflowVersion.objects.filter(status=WorkflowVersion.Status.PUBLISHED)
    if version.number:
        published = published.filter(number__lt=version.number)
    return published.order_by("-number").first()


def _payment_wait(order) -> tuple[int, int, int]:
    current = policy_current()
    return policy_for_order(order).confirmation_timeout, current.reconcile_after, current.reconcile_every_minutes


def _circuit_limits(provider: str) -> tuple[int, float]:
    step = policy_current().step(provider)
    return step.failures, step.cool_down


def policy_hooks_register() -> None:
    """Tell the layers below what they read of the policy: the order domain the current
    version's number (stamped on each order) and how an order waits for its payment; the
    providers' circuit breakers the current version's thresholds."""
    workflow_register(current=version_current_number, payment_wait=_payment_wait,
                      tracking_lookup=lambda order: policy_for_order(order).tracking_lookup_timeout,
                      address_check=lambda order: policy_for_order(order).step("address").timeout)
    circuit_limits_register(_circuit_limits)
