"""/api/workflow: the pipeline's policy as workflow versions (docs/workflow.md).

`GET /api/workflow` is the current version; `/api/workflow/versions` lists every version (drafts
first, then the published ones newest first) and makes a draft; a draft is changed with
`PATCH /api/workflow/versions/{id}` and published with `POST …/{id}/publish`. A version is
addressed by its `id`: a draft has no number (`version`) until it is published.

Each method needs its permission (store.permissions: WORKFLOW_VIEW, WORKFLOW_ADD,
WORKFLOW_CHANGE, WORKFLOW_PUBLISH); a refused or invalid request writes nothing. Field errors
are keyed by the value's path: `{"fields": {"steps.payment.timeoutSeconds": ["…"]}}`.
"""
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from store import permissions
from store.permissions import StaffPermission
from workflows.models import WorkflowVersion
from workflows.policy.schema import SECTION_SETTINGS, merged, policy_diff, policy_ordered
from workflows.policy.selectors import FIRST, policy_completed, policy_current, version_previous, version_revision
from workflows.policy.services import (
    version_draft_create,
    version_draft_update,
    version_dry_run_queue,
    version_publish,
)

INVALID = OpenApiResponse(description='Validation error: {"error", "code": "invalid", "fields": {"<path>": '
                                      '[messages]}}, paths such as "steps.payment.timeoutSeconds"')
FORBIDDEN = OpenApiResponse(description='401 without a token, 403 {"code": "permission_denied"} without the '
                                        'permission')
PUBLISHED = OpenApiResponse(description='409 {"code": "version_published"}: a published version never changes')
NOTE_MAX = 200
EXAMPLE = OpenApiExample("A change", value={"note": "One charge attempt", "steps": {"payment": {"attempts": 1}}})


class WorkflowVersionOutput(serializers.Serializer):
    """A version: its number once published, every step's policy and the pipeline's."""

    id = serializers.IntegerField(allow_null=True, help_text="Where to PATCH and publish it (null: the "
                                                             "built-in version 1 of a store with none stored).")
    version = serializers.IntegerField(allow_null=True, help_text="Its number; null for a draft.")
    status = serializers.ChoiceField(choices=WorkflowVersion.Status.choices)
    note = serializers.CharField()
    steps = serializers.JSONField(help_text="Per step (in the pipeline's order): attempts, backoff {baseSeconds, "
                                            "factor, capSeconds, jitter}, timeoutSeconds, callBudget, stateRetries "
                                            "(payment, shipping), circuit {failures, coolDownSeconds}, bulkhead, "
                                            "enabled (optional steps: risk).")
    payment = serializers.JSONField(help_text="confirmationTimeoutSeconds, reconcileAfterSeconds, "
                                              "reconcileEveryMinutes.")
    tracking = serializers.JSONField(help_text="timeoutSeconds, askMaxSeconds, lookupTimeoutSeconds.")
    holds = serializers.JSONField(help_text="hours, expiryAction (remind, cancel, approve).")
    createdAt = serializers.DateTimeField(allow_null=True)
    createdBy = serializers.CharField(allow_null=True)
    publishedAt = serializers.DateTimeField(allow_null=True)
    publishedBy = serializers.CharField(allow_null=True)
    changes = serializers.ListField(child=serializers.JSONField(), help_text='Against the version before it (a '
                                    'draft: against the current one): [{"path", "from", "to"}].')
    dryRun = serializers.JSONField(allow_null=True, help_text='A draft\'s last dry run: {"orders", "draft", "current", '
                                   '"currentVersion", "policy"}, each version\'s figures {"steps": {step: {"calls", '
                                   '"outcomes", "seconds"}}, "ended", "seconds"}.')
    dryRunAt = serializers.DateTimeField(allow_null=True)
    revision = serializers.CharField(help_text="What the version holds now, as a token: send it back in a PATCH "
                                               "(\"revision\") and a draft someone changed since is refused (409 "
                                               "draft_changed) instead of losing their change.")


def _email(user) -> str | None:
    return user.email if user is not None else None


def version_json(version: WorkflowVersion, previous: WorkflowVersion | None) -> dict:
    policy = policy_ordered(policy_completed(version.policy))  # as the code's steps are now
    return {
        "id": version.pk, "version": version.number, "status": version.status, "note": version.note,
        **{section: policy[section] for section in ("steps", *SECTION_SETTINGS)},
        "createdAt": version.created_at, "createdBy": _email(version.created_by),
        "publishedAt": version.published_at, "publishedBy": _email(version.published_by),
        "changes": [{"path": path, "from": old, "to": new}
                    for path, old, new in policy_diff(previous.policy if previous else None, version.policy)],
        "dryRun": version.dry_run, "dryRunAt": version.dry_run_at,
        "revision": version_revision(version),
    }


def _versions() -> list[WorkflowVersion]:
    return list(WorkflowVersion.objects.select_related("created_by", "published_by"))


def _changes(body) -> tuple[dict, str | None, str | None]:
    """The body's policy changes, its note and the revision it was read at (None: not given).
    Raises ValidationError."""
    if not isinstance(body, dict):
        raise ValidationError({"policy": ["Expected an object: {\"note\", \"steps\", \"payment\", \"tracking\", "
                                          "\"holds\"}."]})
    changes = dict(body)
    note = changes.pop("note", None)
    revision = changes.pop("revision", None)
    if revision is not None and not isinstance(revision, str):
        raise ValidationError({"revision": ["The draft's revision as GET gave it (text)."]})
    if note is not None and (not isinstance(note, str) or len(note) > NOTE_MAX):
        raise ValidationError({"note": [f"Text of at most {NOTE_MAX} characters."]})
    return changes, note, revision


class VersionApi(APIView):
    method_permissions: dict[str, permissions.StaffAction] = {}

    def get_permissions(self):
        return [StaffPermission(self.method_permissions.get(self.request.method, permissions.WORKFLOW_VIEW))()]


class WorkflowCurrentApi(VersionApi):
    @extend_schema(tags=["workflow"], summary="The current workflow version (what new orders run on)",
                   responses={200: WorkflowVersionOutput, 401: FORBIDDEN, 403: FORBIDDEN})
    def get(self, request: Request) -> Response:
        current = policy_current()
        version = (WorkflowVersion.objects.select_related("created_by", "published_by")
                   .filter(number=current.number).first())
        if version is None:  # a store with no version stored runs on the file's, as version 1
            version = WorkflowVersion(number=FIRST, status=WorkflowVersion.Status.PUBLISHED, policy=current.data,
                                      created_at=None)
        return Response(version_json(version, version_previous(version) if version.pk else None))


class WorkflowVersionListApi(VersionApi):
    method_permissions = {"GET": permissions.WORKFLOW_VIEW, "POST": permissions.WORKFLOW_ADD}

    @extend_schema(tags=["workflow"], summary="Every workflow version: drafts, then the published ones newest first",
                   responses={200: WorkflowVersionOutput(many=True), 401: FORBIDDEN, 403: FORBIDDEN})
    def get(self, request: Request) -> Response:
        versions = _versions()
        published = {version.number: version for version in versions if version.number}
        latest = max(published, default=None)

        def before(version: WorkflowVersion) -> WorkflowVersion | None:
            if version.number is None:
                return published.get(latest)
            return next((published[n] for n in sorted(published, reverse=True) if n < version.number), None)

        return Response([version_json(version, before(version)) for version in versions])

    @extend_schema(tags=["workflow"], summary="Draft a version: the current policy with the body's values",
                   request=OpenApiTypes.OBJECT, examples=[EXAMPLE],
                   responses={201: WorkflowVersionOutput, 400: INVALID, 401: FORBIDDEN, 403: FORBIDDEN})
    def post(self, request: Request) -> Response:
        changes, note, _revision = _changes(request.data)
        draft = version_draft_create(actor=request.user, policy=merged(policy_current().data, changes),
                                     note=note or "")
        return Response(version_json(draft, version_previous(draft)), status=status.HTTP_201_CREATED)


class WorkflowVersionDetailApi(VersionApi):
    method_permissions = {"GET": permissions.WORKFLOW_VIEW, "PATCH": permissions.WORKFLOW_CHANGE}

    @extend_schema(tags=["workflow"], summary="A workflow version",
                   responses={200: WorkflowVersionOutput, 401: FORBIDDEN, 403: FORBIDDEN})
    def get(self, request: Request, version_id: int) -> Response:
        version = get_object_or_404(WorkflowVersion.objects.select_related("created_by", "published_by"),
                                    pk=version_id)
        return Response(version_json(version, version_previous(version)))

    @extend_schema(tags=["workflow"], summary="Change a draft: the body's values laid over it",
                   request=OpenApiTypes.OBJECT, examples=[EXAMPLE],
                   responses={200: WorkflowVersionOutput, 400: INVALID, 401: FORBIDDEN, 403: FORBIDDEN,
                              409: PUBLISHED})
    def patch(self, request: Request, version_id: int) -> Response:
        version = get_object_or_404(WorkflowVersion, pk=version_id)
        changes, note, revision = _changes(request.data)
        version = version_draft_update(version=version, actor=request.user, changes=changes, note=note,
                                       revision=revision)
        return Response(version_json(version, version_previous(version)))


class WorkflowVersionDryRunApi(VersionApi):
    method_permissions = {"POST": permissions.WORKFLOW_CHANGE}

    @extend_schema(tags=["workflow"], summary="Dry-run a draft in the worker on synthetic orders (nothing is kept "
                   "but the figures, on the draft)", request=None,
                   responses={202: OpenApiResponse(description='{"queued": true}: GET the version for its dryRun'),
                              400: INVALID, 401: FORBIDDEN, 403: FORBIDDEN, 409: PUBLISHED})
    def post(self, request: Request, version_id: int) -> Response:
        version = get_object_or_404(WorkflowVersion, pk=version_id)
        version_dry_run_queue(version=version, actor=request.user)
        return Response({"queued": True}, status=status.HTTP_202_ACCEPTED)


class WorkflowVersionPublishApi(VersionApi):
    method_permissions = {"POST": permissions.WORKFLOW_PUBLISH}

    @extend_schema(tags=["workflow"], summary="Publish a draft: it becomes the current version", request=None,
                   responses={200: WorkflowVersionOutput, 400: INVALID, 401: FORBIDDEN, 403: FORBIDDEN,
                              409: PUBLISHED})
    def post(self, request: Request, version_id: int) -> Response:
        version = get_object_or_404(WorkflowVersion, pk=version_id)
        version = version_publish(version=version, actor=request.user)
        return Response(version_json(version, version_previous(version)))
