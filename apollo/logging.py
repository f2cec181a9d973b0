"""JSON log lines that carry the request's ids and never a credential.

The request id, org id and user id live in context variables set by the middleware
and the tenancy layer; a filter copies them onto every record written meanwhile.

The formatter is the last line of defence for secrets: a field named like a credential
is masked, and so is anything shaped like one (an id token, a refresh token, an
invitation or webhook secret, a password in a URL) wherever it appears in the line,
tracebacks included. Code should still never log them; this catches the slip.
"""

import contextlib
import contextvars
import logging
import re

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
org_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("org_id", default=None)
user_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("user_id", default=None)

REDACTED = "[redacted]"
# Whole words at the end of a name: ``refresh_token`` is masked, ``tokens`` (a count) is not.
SECRET_FIELD = re.compile(
    r"(?:^|_)(?:password|secret|token|authorization|cookie|api_key)$", re.IGNORECASE
)
SECRET_VALUE = re.compile(
    r"eyJ[\w-]+\.[\w-]+\.[\w-]*"  # a JWT: its header always starts with '{"'
    r"|\b(?:rt|inv|whsec)_[\w-]{16,}"  # our refresh, invitation and webhook secrets
    r"|(?i:bearer)\s+[\w.~+/-]{16,}=*"
    r"|(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"  # the user and password of a server URL
)


class RequestContextFilter(logging.Filter):
    """Copies the ids of the request (or task) onto the record, unless it names its own
    (the request log's line, written after the inner middleware let go of them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(record, "request_id", None) or request_id_var.get()
        record.org_id = getattr(record, "org_id", None) or org_id_var.get()
        record.user_id = getattr(record, "user_id", None) or user_id_var.get()
        return True


@contextlib.contextmanager
def log_context(*, org_id):
    """Lines written in the block carry ``org_id``: for a task's lines outside its
    org scope (claiming a job, ending it)."""
    token = org_id_var.set(str(org_id))
    try:
        yield
    finally:
        org_id_var.reset(token)


def logging_config(level: str, loggers: dict | None = None) -> dict:
    """The ``dictConfig`` of every process: JSON lines on stderr (Django's LOGGING, and
    gunicorn's through ``apollo.gunicorn_conf``)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "apollo.logging.RequestContextFilter"}},
        "formatters": {"json": {"()": "apollo.logging.JsonFormatter"}},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": loggers or {},
    }


class JsonFormatter(_BaseJsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "fmt",
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(org_id)s %(user_id)s",
        )
        kwargs.setdefault("rename_fields", {"levelname": "level", "asctime": "time"})
        super().__init__(*args, **kwargs)

    def process_log_record(self, log_data: dict) -> dict:
        for key in log_data:
            if SECRET_FIELD.search(key) and log_data[key] is not None:
                log_data[key] = REDACTED
        return log_data

    def serialize_log_record(self, log_data: dict) -> str:
        return SECRET_VALUE.sub(REDACTED, super().serialize_log_record(log_data))
