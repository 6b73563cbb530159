"""The request id, user and order of the work in progress, shared by logs and tasks.

Contextvars hold them while a request or a task runs, so log lines and the tasks a request
enqueues carry the id without passing it through every call. The request object keeps a
copy too (`request.request_id`, `request.log_user_id`): Django logs a 4xx/5xx response
after the middleware has returned and the contextvars are reset, from the request.
"""
import contextvars
import re
import uuid

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
user_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)
order_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("order_id", default=None)

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}\Z")


def request_id_current() -> str | None:
    """The id of the request or task being served (also the audit trail's correlation id)."""
    return request_id_var.get()


def request_id_from_header(value: str | None) -> str:
    """Keep a client's request id when it is sane, otherwise generate one."""
    if value and _SANE_REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


def user_bind(request, user) -> None:
    """Name the authenticated `user` in the log lines of this request (session or JWT)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return
    user_id_var.set(user.pk)
    # A DRF Request wraps the HttpRequest that Django's own request logging sees.
    http_request = getattr(request, "_request", request)
    http_request.log_user_id = user.pk
