"""JSON log lines carrying the request id, user id and order id where known."""
import json
import logging
from datetime import UTC, datetime

from store.request_context import request_id_var, user_id_var


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get()
        if not getattr(record, "user_id", None):
            record.user_id = user_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    EXTRA_KEYS = ("request_id", "user_id", "order_id", "transition", "source", "target", "step", "outcome")

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
