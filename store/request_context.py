"""The request id (and user) of the work in progress, shared by logs and tasks.

A contextvar holds it while a request or a task runs, so log lines and the tasks a request
enqueues carry the id without passing it through every call.
"""
import contextvars
import re
import uuid

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
user_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def request_id_from_header(value: str | None) -> str:
    """Keep a client's request id when it is sane, otherwise generate one."""
    if value and _SANE_REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex
