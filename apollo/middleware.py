import logging
import secrets
import time

from django.conf import settings
from django.utils import timezone

from apollo.errors import error_response, handler500
from apollo.logging import request_id_var

logger = logging.getLogger("apollo.request")

REQUEST_ID_HEADER = "X-Request-Id"


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


class RequestIdMiddleware:
    """Give every request an id, on its logs, its error bodies and its answer.

    It also turns any exception that escaped everything else into the 500 envelope,
    whatever ``DEBUG`` says, so no stack trace ever reaches a client.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = new_request_id()
        token = request_id_var.set(request.request_id)
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request.request_id
            return response
        finally:
            request_id_var.reset(token)

    def process_exception(self, request, exception):
        logger.exception("unhandled_exception", extra={"path": request.path})
        return handler500(request)


class BodyLimitMiddleware:
    """Refuse a body over ``APOLLO_MAX_BODY_BYTES`` by its declared length, unread."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.APOLLO_MAX_BODY_BYTES:
            return error_response(
                413,
                "payload_too_large",
                f"The request body is larger than {settings.APOLLO_MAX_BODY_BYTES} bytes.",
            )
        return self.get_response(request)


class RequestLogMiddleware:
    """Record every ``/v1`` request for support: who, what, how it ended, how long."""

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
        from apollo.models import RequestLog

        organization = getattr(request, "organization", None)
        user = getattr(request, "user", None)
        match = getattr(request, "resolver_match", None)
        RequestLog.objects.create(
            request_id=request.request_id,
            organization_id=organization.id if organization else None,
            user_id=user.id if getattr(user, "is_authenticated", False) else None,
            method=request.method[:10],
            path=request.path[:500],
            route=(match.route if match else "")[:200],
            status=response.status_code,
            error_code=getattr(response, "error_code", "")[:64],
            duration_ms=int((time.monotonic() - started) * 1000),
            idempotency_key=request.headers.get("Idempotency-Key", "")[:255],
            client_ip=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.headers.get("User-Agent", "")[:500],
            created_at=timezone.now(),
        )
