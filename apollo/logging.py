"""JSON log lines that carry the request's ids.

The request id, org id and user id live in context variables set by the middleware
and the tenancy layer; a filter copies them onto every record written meanwhile.
"""

import contextvars
import logging

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
org_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("org_id", default=None)
user_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("user_id", default=None)


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.org_id = org_id_var.get()
        record.user_id = user_id_var.get()
        return True


class JsonFormatter(_BaseJsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "fmt",
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(org_id)s %(user_id)s",
        )
        kwargs.setdefault("rename_fields", {"levelname": "level", "asctime": "time"})
        super().__init__(*args, **kwargs)
