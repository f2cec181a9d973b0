"""Every error, whoever raises it, answers the one envelope of the contract.

This module is also the urlconf of the tests that need a view that fails.
"""

import re

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404
from django.urls import include, path

from apollo import urls as root_urls
from orgs.api.views import PublicView

pytestmark = pytest.mark.django_db

REQUEST_ID = re.compile(r"^req_[0-9a-f]{24}$")
HANDLERS = {
    "handler400": "apollo.errors.handler400",
    "handler403": "apollo.errors.handler403",
    "handler404": "apollo.errors.handler404",
    "handler500": "apollo.errors.handler500",
}


class BoomView(PublicView):
    def get(self, request):
        raise RuntimeError("secret detail of a bug")


def plain_view_raising(exception):
    """A Django view outside DRF, which leaves the exception to Django's handlers."""

    def view(request):
        raise exception

    return view


urlpatterns = [
    path("v1/boom", BoomView.as_view()),
    path("plain/missing", plain_view_raising(Http404("secret detail"))),
    path("plain/forbidden", plain_view_raising(PermissionDenied("secret detail"))),
    path("plain/suspicious", plain_view_raising(SuspiciousOperation("secret detail"))),
    path("", include("apollo.urls")),
]
handler400 = "apollo.errors.handler400"
handler403 = "apollo.errors.handler403"
handler404 = "apollo.errors.handler404"
handler500 = "apollo.errors.handler500"


def envelope(response, code: str, message: str, details=None) -> dict:
    request_id = response["X-Request-Id"]
    assert REQUEST_ID.match(request_id)
    assert response["Content-Type"] == "application/json"
    error = {"code": code, "message": message, "request_id": request_id}
    return {"error": error | {"details": details} if details is not None else error}


def test_it_answers_an_unknown_route_under_v1_with_not_found(anonymous):
    response = anonymous.get("/v1/no-such-thing")

    assert response.status_code == 404
    assert response.json() == envelope(response, "not_found", "No such resource.")


def test_it_answers_an_unknown_route_outside_v1_with_not_found(anonymous):
    response = anonymous.get("/no-such-page")

    assert response.status_code == 404
    assert response.json() == envelope(response, "not_found", "No such resource.")


def test_it_answers_a_wrong_method_with_method_not_allowed(client_for, owner):
    response = client_for(owner).delete("/v1/me")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    assert response.json() == envelope(
        response, "method_not_allowed", "This method is not allowed on this resource."
    )


def test_it_answers_a_wrong_method_on_a_plain_django_view_with_the_envelope(anonymous):
    response = anonymous.post("/healthz")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json() == envelope(
        response, "method_not_allowed", "This method is not allowed on this resource."
    )


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/me", {"HTTP_ACCEPT": "text/html"}),
        ("/v1/members", {"HTTP_ACCEPT": "application/xml"}),
    ],
)
def test_it_answers_a_signed_in_caller_who_accepts_no_json_with_not_acceptable(
    client_for, owner, path, headers
):
    response = client_for(owner).get(path, **headers)

    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"
    assert response.json() == envelope(
        response, "not_acceptable", "This resource answers application/json only."
    )
    assert response["RateLimit-Policy"]


def test_it_answers_malformed_json_with_malformed_json(anonymous):
    response = anonymous.post(
        "/v1/auth/token", data='{"email": "a@example.com",', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json() == envelope(
        response, "malformed_json", "The request body is not valid JSON."
    )


def test_it_answers_json_nested_too_deep_to_parse_with_malformed_json(anonymous):
    body = '{"email": ' + "[" * 100_000 + "]" * 100_000 + "}"

    response = anonymous.post("/v1/auth/token", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == envelope(
        response, "malformed_json", "The request body is not valid JSON."
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"email": "a\\u0000@example.com", "password": "x"}', "email"),
        ('{"email": "a@example.com", "x\\u0000": 1}', "x\x00"),
        ('{"a": {"b": [1, {"c": "\\u0000"}]}}', "a.b[1].c"),
    ],
)
def test_it_refuses_a_nul_character_anywhere_in_a_json_body(anonymous, body, field):
    response = anonymous.post("/v1/auth/token", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == envelope(
        response,
        "validation_error",
        "The request is not valid.",
        details=[
            {
                "field": field,
                "code": "null_characters_not_allowed",
                "message": "Null characters are not allowed.",
            }
        ],
    )


def test_it_refuses_a_body_over_the_limit_with_payload_too_large(anonymous, settings):
    settings.APOLLO_MAX_BODY_BYTES = 64

    response = anonymous.post(
        "/v1/auth/token", {"email": "a@example.com", "password": "x" * 100}, format="json"
    )

    assert response.status_code == 413
    assert response.json() == envelope(
        response, "payload_too_large", "The request body is larger than 64 bytes."
    )


def test_it_refuses_a_chunked_body_without_a_length_with_length_required(anonymous):
    response = anonymous.generic(
        "POST",
        "/v1/auth/token",
        b'{"email": "a@example.com"}',
        content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
    )

    assert response.status_code == 411
    assert response.json() == envelope(
        response, "length_required", "Send the request body with a Content-Length header."
    )


def test_it_refuses_a_body_that_is_not_json_with_unsupported_media_type(anonymous):
    response = anonymous.post("/v1/auth/token", data="email=a", content_type="text/plain")

    assert response.status_code == 415
    assert response.json() == envelope(
        response,
        "unsupported_media_type",
        "This endpoint does not accept the media type of the request body.",
    )


def test_it_lists_each_invalid_field_in_a_validation_error(anonymous):
    response = anonymous.post("/v1/auth/token", {"email": "not an email"}, format="json")

    expected = envelope(response, "validation_error", "The request is not valid.")
    expected["error"]["details"] = [
        {"field": "email", "code": "invalid", "message": "Enter a valid email address."},
        {"field": "password", "code": "required", "message": "This field is required."},
    ]
    assert response.status_code == 400
    assert response.json() == expected


def test_it_answers_a_missing_token_with_401_and_a_challenge(anonymous):
    response = anonymous.get("/v1/me")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == envelope(
        response, "token_missing", "Send a bearer token in the Authorization header."
    )


def test_it_challenges_an_invalid_token_too(anonymous):
    response = anonymous.get("/v1/me", HTTP_AUTHORIZATION="Bearer not-a-token")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == envelope(response, "token_invalid", "The token is not valid.")


@pytest.mark.urls("tests.platform.test_errors")
@pytest.mark.parametrize("debug", [False, True])
def test_it_hides_an_unexpected_exception_behind_internal_error(anonymous, settings, debug):
    settings.DEBUG = debug

    response = anonymous.get("/v1/boom")

    assert response.status_code == 500
    assert response.json() == envelope(
        response,
        "internal_error",
        "Something went wrong on our side; quote the request id to support.",
    )
    assert b"Traceback" not in response.content
    assert b"secret detail" not in response.content


def test_it_gives_every_answer_a_distinct_request_id(anonymous):
    first = anonymous.get("/healthz")
    second = anonymous.get("/healthz")

    assert REQUEST_ID.match(first["X-Request-Id"])
    assert first["X-Request-Id"] != second["X-Request-Id"]


def test_it_declares_the_envelope_handlers_in_the_root_urlconf():
    assert {name: getattr(root_urls, name, None) for name in HANDLERS} == HANDLERS


@pytest.mark.urls("tests.platform.test_errors")
@pytest.mark.parametrize(
    ("url", "status", "code", "message"),
    [
        ("/plain/missing", 404, "not_found", "No such resource."),
        ("/plain/forbidden", 403, "permission_denied", "Your role does not allow this action."),
        ("/plain/suspicious", 400, "bad_request", "The request could not be processed."),
    ],
)
def test_it_answers_what_django_handles_itself_with_the_envelope(
    anonymous, url, status, code, message
):
    response = anonymous.get(url)

    assert response.status_code == status
    assert response.json() == envelope(response, code, message)


@pytest.mark.urls("tests.platform.test_errors")
def test_it_answers_a_host_it_does_not_serve_with_bad_request(anonymous):
    response = anonymous.get("/v1/me", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response.json() == envelope(
        response, "bad_request", "The request could not be processed."
    )
