"""Domain errors and the one place that renders them.

Views and services raise ``ApiError`` (or a subclass); ``exception_handler`` turns it,
and every exception DRF or Django raises on the way, into the envelope of the contract:
``{"error": {"code", "message", "request_id", ["details"]}}``.
"""

import logging
import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import connections
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from apollo.logging import request_id_var

logger = logging.getLogger("apollo.errors")


class ApiError(Exception):
    status = 400
    code = "bad_request"
    message = "The request could not be processed."

    def __init__(self, message=None, *, code=None, status=None, details=None, headers=None):
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)


class ValidationFailed(ApiError):
    status = 400
    code = "validation_error"
    message = "The request is not valid."

    @classmethod
    def for_field(cls, field, message, code="invalid"):
        return cls(details=[{"field": field, "code": code, "message": message}])


class NotFound(ApiError):
    status = 404
    code = "not_found"
    message = "Not found."


class Conflict(ApiError):
    status = 409
    code = "conflict"


class PermissionDenied(ApiError):
    status = 403
    code = "permission_denied"
    message = "Your role does not allow this action."


class Unauthenticated(ApiError):
    status = 401
    code = "token_invalid"
    message = "The token is not valid."


def error_body(code: str, message: str, details=None) -> dict:
    error = {"code": code, "message": message, "request_id": request_id_var.get()}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_response(status: int, code: str, message: str, details=None, headers=None):
    """A plain Django response carrying the envelope, for code outside DRF views."""
    response = JsonResponse(error_body(code, message, details), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    response.error_code = code
    return response


def _flatten_validation(detail, prefix="") -> list[dict]:
    """DRF's nested error dicts and lists, as the contract's flat ``details`` list."""
    if isinstance(detail, dict):
        items = []
        for key, value in detail.items():
            field = key if key != "non_field_errors" else ""
            path = f"{prefix}.{field}" if prefix and field else (field or prefix)
            items.extend(_flatten_validation(value, path))
        return items
    if isinstance(detail, list):
        items = []
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                items.extend(_flatten_validation(value, f"{prefix}[{index}]"))
            else:
                items.extend(_flatten_validation(value, prefix))
        return items
    return [
        {
            "field": prefix or None,
            "code": getattr(detail, "code", "invalid"),
            "message": str(detail),
        }
    ]


class MalformedJson(drf.ParseError):
    """A JSON body that cannot be read; other bodies' parse errors are plain ParseErrors."""


def _translate(exc) -> ApiError | None:
    """Map the exceptions of DRF and Django onto the contract's codes."""
    match exc:
        case ApiError():
            return exc
        case drf.ValidationError():
            return ValidationFailed(details=_flatten_validation(exc.detail))
        case drf.NotAuthenticated():
            return Unauthenticated(
                "Send a bearer token in the Authorization header.", code="token_missing"
            )
        case drf.AuthenticationFailed():
            return Unauthenticated(str(exc.detail))
        case drf.PermissionDenied() | DjangoPermissionDenied():
            return PermissionDenied()
        case drf.NotFound() | Http404():
            return NotFound()
        case drf.MethodNotAllowed():
            return method_not_allowed()
        case MalformedJson():
            return ApiError(
                "The request body is not valid JSON.", code="malformed_json", status=400
            )
        case drf.ParseError():
            return ApiError(
                f"The request body cannot be read: {exc.detail}",
                code="malformed_body",
                status=400,
            )
        case drf.UnsupportedMediaType():
            return ApiError(
                "This endpoint does not accept the media type of the request body.",
                code="unsupported_media_type",
                status=415,
            )
        case drf.NotAcceptable():
            return ApiError(
                "This resource answers application/json only.",
                code="not_acceptable",
                status=406,
            )
        case RequestDataTooBig():
            return payload_too_large()
        case drf.Throttled():
            return ApiError("Too many requests.", code="rate_limited", status=429)
    return None


def method_not_allowed() -> ApiError:
    return ApiError(
        "This method is not allowed on this resource.", code="method_not_allowed", status=405
    )


def payload_too_large() -> ApiError:
    return ApiError("The request body is too large.", code="payload_too_large", status=413)


def _rollback_request_transaction() -> None:
    """What DRF's own handler does, without importing ``rest_framework.views``.

    That module loads the authentication classes, which import this one: a cycle.
    """
    for connection in connections.all():
        if connection.settings_dict["ATOMIC_REQUESTS"] and connection.in_atomic_block:
            connection.set_rollback(True)


def exception_handler(exc, context):
    from apollo.idempotency import IdempotentReplay

    if isinstance(exc, IdempotentReplay):
        return exc.response
    error = _translate(exc)
    if error is None:
        # Unexpected: RequestIdMiddleware logs it and answers the 500 envelope.
        return None
    # An error answer commits nothing the request may have written before it failed.
    _rollback_request_transaction()
    response = Response(
        error_body(error.code, error.message, error.details),
        status=error.status,
        headers={**_protocol_headers(exc, error, context), **error.headers},
    )
    response.error_code = error.code
    return response


def _protocol_headers(exc, error: ApiError, context) -> dict:
    """The headers HTTP asks of a 401 or a 429, which DRF's own handler would have set."""
    headers = {}
    view, request = context.get("view"), context.get("request")
    if error.status == 401 and view is not None:
        # Our own ``Unauthenticated`` skips DRF's challenge logic, so ask the view.
        challenge = view.get_authenticate_header(request)
        if challenge:
            headers["WWW-Authenticate"] = challenge
    if isinstance(exc, drf.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(math.ceil(exc.wait))
    return headers


def handler400(request, exception=None):
    error = payload_too_large() if isinstance(exception, RequestDataTooBig) else ApiError()
    return error_response(error.status, error.code, error.message)


def handler403(request, exception=None):
    error = PermissionDenied()
    return error_response(error.status, error.code, error.message)


def handler404(request, exception=None):
    return error_response(404, "not_found", "No such resource.")


def handler500(request):
    return error_response(
        500,
        "internal_error",
        "Something went wrong on our side; quote the request id to support.",
    )
