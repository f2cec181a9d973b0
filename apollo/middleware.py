import logging
import secrets
import time

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.db import connection
from django.http import Http404, HttpResponseNotAllowed
from django.utils import timezone
from django.utils.log import log_response

from apollo.errors import error_response, handler500, method_not_allowed
from apollo.logging import request_id_var
from apollo.models import RequestLog

logger = logging.getLogger("apollo.request")

REQUEST_ID_HEADER = "X-Request-Id"

# Exceptions that Django itself turns into a 4xx through the urlconf's handlers
# (``apollo.errors.handler400`` and the others); they are not server errors.
ANSWERED_BY_DJANGO = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


class RequestIdMiddleware:
    """Give every request an id, on its logs, its error bodies and its answer.

    Being the outermost layer, it also does what only the last one out can:

    1. An exception that escaped a view becomes the 500 envelope, whatever ``DEBUG``
       says, so no stack trace ever reaches a client.
    2. Django's own bare 405 (``require_GET`` and friends) gets the envelope too.
    3. Error answers are logged here, while the request id is still set; Django would
       log them only after every middleware returned, with no id to find them by.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = new_request_id()
        token = request_id_var.set(request.request_id)
        try:
            response = _with_envelope(self.get_response(request))
            response[REQUEST_ID_HEADER] = request.request_id
            if response.status_code >= 400:
                log_response(
                    "%s: %s",
                    response.reason_phrase,
                    request.path,
                    response=response,
                    request=request,
                )
            return response
        finally:
            request_id_var.reset(token)

    def process_exception(self, request, exception):
        if isinstance(exception, ANSWERED_BY_DJANGO):
            return None
        logger.exception("unhandled_exception", extra={"path": request.path})
        return handler500(request)


def _with_envelope(response):
    """Django's bare 405 as the contract's envelope; any other answer as it is."""
    if not isinstance(response, HttpResponseNotAllowed):
        return response
    error = method_not_allowed()
    return error_response(
        error.status, error.code, error.message, headers={"Allow": response["Allow"]}
    )


class BodyLimitMiddleware:
    """Refuse a body over its limit by its declared length, unread.

    The limit is ``APOLLO_MAX_BODY_BYTES``, except on upload endpoints, which stream
    files to disk and allow ``APOLLO_IMPORT_MAX_BYTES``. A body sent in chunks, with no
    length, is refused too (411): Django would read it as empty, and the handler would
    answer about a body the client never sent.
    """

    UPLOAD_PATHS = ("/v1/lead-imports",)

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not request.META.get("CONTENT_LENGTH"):
            return error_response(
                411, "length_required", "Send the request body with a Content-Length header."
            )
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = (
            settings.APOLLO_IMPORT_MAX_BYTES
            if request.path in self.UPLOAD_PATHS
            else settings.APOLLO_MAX_BODY_BYTES
        )
        if length > limit:
            return error_response(
                413, "payload_too_large", f"The request body is larger than {limit} bytes."
            )
        return self.get_response(request)


class RequestLogMiddleware:
    """Record every ``/v1`` request for support: who, what, how it ended, how long.

    The row is written after the request's own transaction ended, so it is kept even
    when the request's work was rolled back.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        response = self.get_response(request)
        if request.path.startswith("/v1/"):
            try:
                self._record(request, response, started)
            except Exception:
                # Losing one log row must not turn a good answer into an error.
                logger.exception("request_log_failed")
        return response

    def _record(self, request, response, started):
        organization = getattr(request, "organization", None)
        user = getattr(request, "user", None)
        match = getattr(request, "resolver_match", None)
        object_type, object_id = getattr(request, "touched", None) or ("", None)
        row = {
            "request_id": request.request_id,
            "organization_id": organization.id if organization else None,
            "user_id": user.id if getattr(user, "is_authenticated", False) else None,
            "method": _text(request.method, 10),
            "path": _text(request.path, 500),
            "route": _text(match.route if match else "", 200),
            "status": response.status_code,
            "error_code": _text(_error_code(response), 64),
            "duration_ms": int((time.monotonic() - started) * 1000),
            "idempotency_key": _text(request.headers.get("Idempotency-Key", ""), 255),
            "client_ip": request.META.get("REMOTE_ADDR") or None,
            "user_agent": _text(request.headers.get("User-Agent", ""), 500),
            "object_type": object_type,
            "object_id": object_id,
            "created_at": timezone.now(),
        }
        # A plain INSERT: the model's save() (signals, a compiled query, RETURNING id)
        # cost about a third of this row's time, on every request.
        with connection.cursor() as cursor:
            cursor.execute(_INSERT_REQUEST_LOG, row)
        logger.info(
            "request_finished",
            extra={
                "org_id": _str(row["organization_id"]),
                "user_id": _str(row["user_id"]),
                **{name: row[name] for name in LOGGED_FIELDS},
            },
        )


# The request's line in the log: enough to follow it; the row holds the rest.
LOGGED_FIELDS = ("method", "path", "status", "error_code", "duration_ms")


def _str(value) -> str | None:
    return str(value) if value is not None else None


def _text(value: str, limit: int) -> str:
    # A path may carry a NUL (%00), which PostgreSQL text refuses; support still needs
    # the row to find the request by its id.
    return value.replace("\x00", "")[:limit]


def _insert_statement(model) -> str:
    """An INSERT of every column but the primary key, with named placeholders."""
    quote = connection.ops.quote_name
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(quote(field.column) for field in fields)
    values = ", ".join(f"%({field.attname})s" for field in fields)
    # Identifiers come from the model; every value is a placeholder.
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({values})"  # noqa: S608


_INSERT_REQUEST_LOG = _insert_statement(RequestLog)


def _error_code(response) -> str:
    """The code our handlers noted, or the one in a replayed (stored) error body."""
    if hasattr(response, "error_code"):
        return response.error_code
    body = getattr(response, "data", None)
    if response.status_code < 400 or not isinstance(body, dict):
        return ""
    error = body.get("error")
    return str(error.get("code", "")) if isinstance(error, dict) else ""
