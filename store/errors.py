"""Domain errors raised by services; the API and the pages turn them into responses."""


class DomainError(Exception):
    """A business rule refused the request. `status` is the HTTP status the API answers with."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields


class ValidationFailed(DomainError):
    status = 400
    code = "invalid"


class PermissionRefused(DomainError):
    """The account lacks the permission an action needs (store.permissions)."""

    status = 403
    code = "permission_denied"


class TooManyAttempts(DomainError):
    """A limit refused the attempt; `retry_after` is the whole seconds until it may be tried again."""

    status = 429
    code = "throttled"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Unprocessable(DomainError):
    status = 422
    code = "unprocessable"


class ProviderUnavailable(DomainError):
    """A provider the request needs did not answer; nothing was changed. `retry_after`: the whole
    seconds to wait before trying again (the API's Retry-After)."""

    status = 503
    code = "provider_unavailable"

    def __init__(self, message: str, *, retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after
