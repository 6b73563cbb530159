"""JSON log lines carrying the request id, user id and order id where known."""
import json
import logging
from datetime import UTC, datetime

from store import sandbox
from store.request_context import order_id_var, request_id_var, user_id_var

# Paths of the health probes (store.urls): their 503s are reported by store.health, once per
# change, instead of an ERROR line from django.request on every probe.
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/livez"})


class RequestContextFilter(logging.Filter):
    """Adds request_id, user_id and order_id from the context of the work in progress, and
    marks a dry run's lines (store.sandbox): "[dry run] " before the message, `dry_run` true.

    Django logs 4xx/5xx responses (logger django.request) after the middleware returned;
    those records carry the request, which keeps its id and user.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get() or getattr(request, "request_id", None)
        if not getattr(record, "user_id", None):
            record.user_id = user_id_var.get() or getattr(request, "log_user_id", None)
        if not getattr(record, "order_id", None):
            record.order_id = order_id_var.get()
        if sandbox.in_sandbox() and not getattr(record, "dry_run", False):
            # A dry run's synthetic order is rolled back and its id given again to a real order.
            record.dry_run = True
            record.msg = f"[dry run] {record.msg}"
        return True


class ProbeResponseFilter(logging.Filter):
    """Drops django.request's line for a probe's 503: the probe logs its own WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        return not (getattr(record, "status_code", None) == 503 and getattr(request, "path", None) in PROBE_PATHS)


class LoggedRefusalFilter(logging.Filter):
    """Drops django.request's line for a 4xx (or an outage's 503) whose view already logged why it
    refused (it set `refusal_logged` on the request): one line per refusal, the one that names the reason."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(getattr(record, "request", None), "refusal_logged", False)


class JsonFormatter(logging.Formatter):
    EXTRA_KEYS = (
        "request_id", "user_id", "order_id", "transition", "source", "target", "step", "outcome", "status_code",
        "checks", "dry_run",
    )

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in self.EXTRA_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)
