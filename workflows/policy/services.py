"""Writing workflow versions: drafts, publishing, the YAML file of a version.

Every write checks the whole policy with `policy_clean` (field errors keyed by path, nothing
written on a refusal) and needs its permission (store.permissions: WORKFLOW_ADD, WORKFLOW_CHANGE,
WORKFLOW_PUBLISH); `actor=None` is the operator's `manage.py`, who needs none. A published
version never changes: changing or publishing it again raises Conflict (409).
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from store import permissions
from store.errors import Conflict
from workflows import outbox
from workflows.models import WorkflowVersion
from workflows.policy.schema import merged, policy_clean, policy_ordered
from workflows.policy.selectors import (
    DEFAULT_POLICY_FILE,
    FIRST,
    policy_current,
    policy_default,
    policy_steps_filled,
    version_current_number,
    version_revision,
)
from workflows.tasks import sweeper_schedule_sync

PUBLISHED = WorkflowVersion.Status.PUBLISHED
DRAFT_CHANGED = ("Someone else changed this draft since you opened it; nothing was saved. Reload it to see "
                 "their change, then make yours again.")


class DraftChanged(Conflict):
    """The draft changed since the caller read it (its revision differs)."""


def _require(actor, action: permissions.StaffAction) -> None:
    if actor is not None:
        permissions.require(actor, action)


def _published_refusal(version: WorkflowVersion) -> Conflict:
    return Conflict(f"Version {version.number} is published: it never changes. Make a new draft from it.",
                    code="version_published")


def version_first_ensure(*, path: Path = DEFAULT_POLICY_FILE) -> WorkflowVersion | None:
    """Store version 1 from `path` (fixtures/workflow.yaml) when no version is published (a new
    store). Returns it when it was made, else None. Raises ValidationError when the file is wrong."""
    if WorkflowVersion.objects.filter(status=PUBLISHED).exists():
        return None
    policy = policy_default() if path == DEFAULT_POLICY_FILE else policy_clean(yaml.safe_load(path.read_text()))
    try:
        with transaction.atomic():
            return WorkflowVersion.objects.create(number=FIRST, status=PUBLISHED, policy=policy,
                                                  note=f"The default policy ({path.name})",
                                                  published_at=timezone.now())
    except IntegrityError:  # another process stored it meanwhile
        return None


def version_draft_create(*, actor, policy: dict | None = None, note: str = "") -> WorkflowVersion:
    """A new draft holding `policy` (the current version's when not given). Raises
    PermissionRefused, ValidationError ({path: [messages]})."""
    _require(actor, permissions.WORKFLOW_ADD)
    clean = policy_clean(policy if policy is not None else policy_current().data)
    return WorkflowVersion.objects.create(policy=clean, note=note, created_by=actor)


def version_draft_update(*, version: WorkflowVersion, actor, changes: dict[str, Any] | None = None,
                         note: str | None = None, revision: str | None = None) -> WorkflowVersion:
    """Draft `version` with `changes` laid over its policy (objects merged key by key: a PATCH) and
    its note replaced when given. With `revision` (selectors.version_revision of the draft as the
    caller read it), a draft someone changed since is refused: DraftChanged, nothing written.
    Raises PermissionRefused, Conflict (published, DraftChanged), ValidationError."""
    _require(actor, permissions.WORKFLOW_CHANGE)
    with transaction.atomic():
        locked = WorkflowVersion.objects.select_for_update().get(pk=version.pk)
        if locked.published:
            raise _published_refusal(locked)
        if revision is not None and revision != version_revision(locked):
            raise DraftChanged(DRAFT_CHANGED, code="draft_changed")
        if changes:
            if not isinstance(changes, dict):
                raise ValidationError({"policy": ["Expected an object."]})
            locked.policy = policy_clean(merged(locked.policy, changes))
        if note is not None:
            locked.note = note
        locked.save()
    return locked


def version_publish(*, version: WorkflowVersion, actor) -> WorkflowVersion:
    """Publish draft `version`: it takes the next number and becomes the current version, which
    every order placed from now on runs on; the shared limits (circuits, bulkheads, the
    reconciliation's schedule) follow it. Its policy is checked again (the pipeline's steps may
    have changed since it was drafted). Raises PermissionRefused, Conflict, ValidationError."""
    _require(actor, permissions.WORKFLOW_PUBLISH)
    version_first_ensure()
    try:
        with transaction.atomic():
            # Publishers queue on one row that is always there (the first version, version_first_ensure
            # made sure): each then reads the latest number after the one before it committed.
            list(WorkflowVersion.objects.select_for_update().filter(status=PUBLISHED).order_by("number")[:1])
            locked = WorkflowVersion.objects.select_for_update().get(pk=version.pk)
            if locked.published:
                raise _published_refusal(locked)
            locked.policy = policy_clean(locked.policy)
            latest = WorkflowVersion.objects.filter(status=PUBLISHED).aggregate(n=Max("number"))["n"] or 0
            locked.number = latest + 1
            locked.status, locked.published_by, locked.published_at = PUBLISHED, actor, timezone.now()
            locked.save()
            transaction.on_commit(_published)
    except IntegrityError as exc:  # another draft took the number at the same moment
        raise Conflict("Another version was published at the same moment; publish this one again.",
                       code="publish_conflict") from exc
    return locked


def _published() -> None:
    version_current_number()  # this process follows at once; the others within WORKFLOW_READ_CACHE_SECONDS
    sweeper_schedule_sync()


def version_dry_run_queue(*, version: WorkflowVersion, actor) -> None:
    """Ask the worker to dry-run draft `version` (workflows.policy.dryrun); its figures land on the
    draft. Needs WORKFLOW_CHANGE. Raises Conflict for a published version, ValidationError
    ({path: [messages]}) for a draft that is not valid now (the pipeline's steps changed since it
    was saved): the worker would refuse it anyway, where nobody would see why."""
    _require(actor, permissions.WORKFLOW_CHANGE)
    stored = WorkflowVersion.objects.filter(pk=version.pk).values_list("status", "policy").first()
    if stored is not None and stored[0] == PUBLISHED:
        raise Conflict(f"{version} is published: dry runs try drafts.", code="version_published")
    policy_clean(stored[1] if stored is not None else version.policy)
    outbox.enqueue("workflows.policy.dryrun.version_dry_run", version.pk, task_name=f"dry-run-{version.pk}",
                   group="workflow")


def version_yaml(version: WorkflowVersion) -> str:
    """`version`'s policy as YAML, in the form fixtures/workflow.yaml has (what `workflow_import` reads)."""
    header = (f"# Workflow version {version.number}" if version.number else f"# Draft {version.pk}") + (
        f": {version.note}" if version.note else "")
    return f"{header}\n" + yaml.safe_dump(policy_ordered(version.policy), sort_keys=False, default_flow_style=False)


@dataclass(frozen=True)
class Imported:
    """An imported version, and the steps its file lacked whole that were filled from
    fixtures/workflow.yaml (selectors.policy_steps_filled), in the pipeline's order."""

    version: WorkflowVersion
    filled: tuple[str, ...] = ()


def version_import(*, text: str, actor, note: str = "", publish: bool = False) -> Imported:
    """A draft from YAML `text` (a policy in the form `version_yaml` writes), published at once
    with `publish`. A pipeline step the file lacks whole (it was exported before the step existed)
    takes fixtures/workflow.yaml's values, and `Imported.filled` names it. Raises ValidationError
    (the YAML cannot be read, or a value is wrong: by path), PermissionRefused, Conflict."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError({"policy": [f"Not YAML: {exc}"]}) from exc
    if not isinstance(data, dict):  # an empty file (or comments only) is no policy, not "the current one"
        raise ValidationError({"policy": ["The file holds no policy." if data is None else
                                          "Expected a mapping with steps, payment, tracking and holds."]})
    data, filled = policy_steps_filled(data)
    with transaction.atomic():
        draft = version_draft_create(actor=actor, policy=data, note=note)
        return Imported(version_publish(version=draft, actor=actor) if publish else draft, filled)
