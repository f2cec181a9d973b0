"""Log lines are JSON, carry the ids of their request, and never a credential."""

import io
import json
import logging

import pytest

from apollo.logging import JsonFormatter, RequestContextFilter
from apollo.tenancy import org_scope
from leads.imports import lead_import_create, lead_import_run
from orgs.api.views import MemberViewSet
from tests.conftest import PASSWORD
from tests.leads.import_files import csv_bytes, rows, uploaded

pytestmark = pytest.mark.django_db

probe_logger = logging.getLogger("apollo.test_probe")


@pytest.fixture
def log_lines():
    """Everything logged at any level, written as the production handler writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonFormatter())
    # The settings quiet Django's own loggers; open them too, down to SQL statements.
    loggers = [logging.getLogger(name) for name in ("", "django", "django.request")]
    previous_levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    loggers[0].addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    loggers[0].removeHandler(handler)
    for logger, level in zip(loggers, previous_levels, strict=True):
        logger.setLevel(level)


def test_it_writes_one_line_per_request_with_its_ids_and_outcome(client_for, admin, org, log_lines):
    response = client_for(admin).get("/v1/members")

    [line] = [line for line in log_lines() if line["message"] == "request_finished"]
    assert line == {
        "time": line["time"],
        "level": "INFO",
        "name": "apollo.request",
        "message": "request_finished",
        "request_id": response["X-Request-Id"],
        "org_id": str(org.id),
        "user_id": str(admin.id),
        "method": "GET",
        "path": "/v1/members",
        "status": 200,
        "error_code": "",
        "duration_ms": line["duration_ms"],
    }


def test_an_import_jobs_lines_carry_its_org_from_claim_to_end(
    org, member, log_lines, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    with org_scope(org.id):
        job = lead_import_create(
            organization=org,
            user=member,
            upload=uploaded(csv_bytes(rows(1))),
            options={},
        )

    lead_import_run(job.pk)

    lines = [line for line in log_lines() if line["message"].startswith("lead_import_")]
    assert [(line["message"], line["org_id"]) for line in lines] == [
        ("lead_import_started", str(org.id)),
        ("lead_import_ended", str(org.id)),
    ]


def test_it_stamps_a_line_of_an_org_request_with_its_ids(
    client_for, admin, org, log_lines, monkeypatch
):
    def scope_queryset(view, queryset):
        probe_logger.info("members_listed", extra={"count_hint": 3})
        return queryset

    monkeypatch.setattr(MemberViewSet, "scope_queryset", scope_queryset)

    response = client_for(admin).get("/v1/members")

    line = next(line for line in log_lines() if line["message"] == "members_listed")
    assert response.status_code == 200
    assert line == {
        "time": line["time"],
        "level": "INFO",
        "name": "apollo.test_probe",
        "message": "members_listed",
        "request_id": response["X-Request-Id"],
        "org_id": str(org.id),
        "user_id": str(admin.id),
        "count_hint": 3,
    }


def test_it_stamps_every_line_of_a_request_with_its_request_id(
    client_for, admin, settings, log_lines
):
    settings.DEBUG = True  # so that each SQL statement is a line too

    response = client_for(admin).get("/v1/members")

    lines = log_lines()
    assert len(lines) > 1
    assert {line["request_id"] for line in lines} == {response["X-Request-Id"]}


def test_it_leaves_the_ids_empty_outside_a_request(log_lines):
    probe_logger.info("outside_any_request")

    [line] = log_lines()
    assert (line["request_id"], line["org_id"], line["user_id"]) == (None, None, None)


@pytest.mark.urls("tests.platform.test_errors")
def test_it_logs_an_unexpected_exception_with_its_traceback_and_request_id(anonymous, log_lines):
    response = anonymous.get("/v1/boom")

    request_id = response["X-Request-Id"]
    lines = [line for line in log_lines() if line["level"] == "ERROR"]
    assert [line["message"] for line in lines] == [
        "unhandled_exception",
        "Internal Server Error: /v1/boom",
    ]
    assert all(line["request_id"] == request_id for line in lines)
    assert "RuntimeError: secret detail of a bug" in lines[0]["exc_info"]


def test_it_never_logs_a_password_or_a_token(anonymous, owner, settings, log_lines):
    settings.DEBUG = True  # so that each SQL statement is a line too, with its parameters

    pair = anonymous.post(
        "/v1/auth/token", {"email": owner.email, "password": PASSWORD}, format="json"
    ).json()
    anonymous.post("/v1/auth/token", {"email": owner.email, "password": "wrong " + PASSWORD})
    anonymous.get("/v1/me", HTTP_AUTHORIZATION=f"Bearer {pair['id_token']}")
    anonymous.get("/v1/me", HTTP_AUTHORIZATION=f"Bearer {pair['id_token'][:-4]}abcd")
    anonymous.post("/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}, format="json")

    output = json.dumps(log_lines())
    assert "SELECT" in output
    assert PASSWORD not in output
    assert pair["id_token"] not in output
    assert pair["id_token"][:-4] not in output
    assert pair["refresh_token"] not in output


def test_it_masks_credentials_that_code_logs_by_mistake(log_lines):
    id_token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    refresh_token = "rt_" + "x" * 43

    probe_logger.warning(
        "login %s with %s",
        "ada@example.com",
        f"Bearer {id_token}",
        extra={
            "password": PASSWORD,
            "refresh_token": refresh_token,
            "tokens": 12,
            "broker": "redis://apollo:s3cret@redis:6379/0",
        },
    )

    [line] = log_lines()
    assert line["message"] == "login ada@example.com with [redacted]"
    assert line["broker"] == "redis://[redacted]@redis:6379/0"
    assert line["password"] == "[redacted]"
    assert line["refresh_token"] == "[redacted]"
    assert line["tokens"] == 12
