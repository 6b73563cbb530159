"""The OpenAPI schema: its view, and the postprocessing that documents the API's one error format.

Every /api response that is not a success is `{"error", "code", "fields"?}` (store.api.errors).
drf-spectacular only documents what each view declares, so clients (and schemathesis) would
see a 401, 404 or 409 as "undocumented". This hook adds the error responses an operation can
give, without overriding what a view declared itself.
"""
import threading

from drf_spectacular.views import SpectacularAPIView

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every /api error: a human message, a machine code and, for invalid input, the fields.",
    "properties": {
        "error": {"type": "string"},
        "code": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": True},
    },
    "required": ["error", "code"],
}
ANY_OPERATION = {
    "400": "Invalid input (a malformed body or query parameter).",
    "401": "Not signed in, or the token is invalid or expired.",
    "403": "Signed in, but not allowed to do this.",
    "404": "No such resource (or another customer's).",
    "429": "Too many requests; see Retry-After.",
}
WRITING_OPERATION = {
    "409": "The resource's current state does not allow this (or not enough stock).",
    "415": "The body is not JSON.",
    "422": "The request conflicts with an earlier one (an Idempotency-Key reused with another body).",
}


def document_error_responses(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_SCHEMA)
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for methods in result.get("paths", {}).values():
        for method, operation in methods.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            errors = dict(ANY_OPERATION)
            if method != "get":
                errors.update(WRITING_OPERATION)
            responses = operation.setdefault("responses", {})
            for status, description in errors.items():
                response = responses.setdefault(status, {"description": description})
                response.setdefault("content", reference)
    return result


class SchemaView(SpectacularAPIView):
    """drf-spectacular's schema view, one generation at a time per process: its generator is not
    thread-safe, and gunicorn's threads serve two schema requests at once (an intermittent 500)."""

    _generating = threading.Lock()

    def _get_schema_response(self, request):
        with self._generating:
            return super()._get_schema_response(request)
