"""Every /v1 request leaves one row that support can find by its request id."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apollo.middleware import new_request_id
from apollo.models import RequestLog

pytestmark = pytest.mark.django_db


def logged(response) -> RequestLog:
    return RequestLog.objects.get(request_id=response["X-Request-Id"])


def test_it_records_who_did_what_in_which_organization(client_for, admin, org):
    client = client_for(admin, REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="acme-sync/1.2")

    response = client.get("/v1/members", HTTP_IDEMPOTENCY_KEY="key-1")

    row = logged(response)
    assert response.status_code == 200
    assert row.organization_id == org.id
    assert row.user_id == admin.id
    assert (row.method, row.path, row.route) == ("GET", "/v1/members", "v1/members")
    assert (row.status, row.error_code) == (200, "")
    assert row.idempotency_key == "key-1"
    assert row.client_ip == "203.0.113.7"
    assert row.user_agent == "acme-sync/1.2"
    assert row.duration_ms >= 0
    assert row.created_at is not None


def test_it_records_the_route_pattern_rather_than_the_ids_in_the_path(client_for, admin, member):
    response = client_for(admin).patch(
        f"/v1/members/{member.id}", {"role": "viewer"}, format="json"
    )

    row = logged(response)
    assert response.status_code == 200
    assert row.path == f"/v1/members/{member.id}"
    assert row.route == "v1/members/<str:user_id>"


def test_it_records_the_error_code_of_a_refused_request(client_for, outsider, org):
    response = client_for(outsider, organization=org).get("/v1/members")

    row = logged(response)
    assert response.status_code == 403
    assert (row.status, row.error_code) == (403, "organization_forbidden")
    assert row.user_id == outsider.id
    assert row.organization_id is None


def test_it_records_the_object_a_request_made_or_read(client_for, member):
    client = client_for(member)
    made = client.post("/v1/leads", {"contact_name": "Ada Lovelace"}, format="json")
    lead_id = made.json()["id"]
    read = client.get(f"/v1/leads/{lead_id}")
    listed = client.get("/v1/leads")
    missing = client.get("/v1/leads/8a4f6f4e-2a55-4b8e-9c1e-0d6b1f1c2d3e")

    assert [(logged(r).object_type, str(logged(r).object_id)) for r in (made, read)] == [
        ("leads.lead", lead_id),
        ("leads.lead", lead_id),
    ]
    assert [(logged(r).object_type, logged(r).object_id) for r in (listed, missing)] == [
        ("", None),
        ("", None),
    ]


def test_it_records_a_request_without_a_token(anonymous):
    response = anonymous.get("/v1/me")

    row = logged(response)
    assert (row.status, row.error_code, row.user_id) == (401, "token_missing", None)


def test_it_records_an_unknown_route(anonymous):
    response = anonymous.get("/v1/no-such-thing")

    row = logged(response)
    assert (row.status, row.error_code, row.route) == (404, "not_found", "")


def test_it_records_a_path_that_carries_a_nul_character(anonymous):
    response = anonymous.get("/v1/leads/a%00b")

    row = logged(response)
    assert (row.status, row.path) == (401, "/v1/leads/ab")


def test_it_records_a_body_refused_before_it_was_read(anonymous, settings):
    settings.APOLLO_MAX_BODY_BYTES = 8

    response = anonymous.post("/v1/auth/token", {"email": "a@example.com"}, format="json")

    assert logged(response).error_code == "payload_too_large"


@pytest.mark.urls("tests.platform.test_errors")
def test_it_keeps_the_row_of_a_request_that_failed_and_rolled_back(anonymous):
    response = anonymous.get("/v1/boom")

    row = logged(response)
    assert (row.status, row.error_code, row.route) == (500, "internal_error", "v1/boom")


def test_it_does_not_record_paths_outside_v1(anonymous):
    anonymous.get("/healthz")
    anonymous.get("/no-such-page")

    assert not RequestLog.objects.exists()


# prune_request_log


def log_row(days_old: float) -> RequestLog:
    return RequestLog.objects.create(
        request_id=new_request_id(),
        method="GET",
        path="/v1/leads",
        status=200,
        duration_ms=3,
        created_at=timezone.now() - timedelta(days=days_old),
    )


def prune(*args) -> str:
    out = io.StringIO()
    call_command("prune_request_log", *args, stdout=out)
    return out.getvalue()


def remaining_ages() -> list[int]:
    now = timezone.now()
    return sorted((now - row.created_at).days for row in RequestLog.objects.all())


def test_it_prunes_rows_older_than_the_retention_setting(settings, capsys):
    settings.APOLLO_REQUEST_LOG_RETENTION_DAYS = 30
    for days_old in (45, 31, 29, 1):
        log_row(days_old)

    output = prune()

    assert remaining_ages() == [1, 29]
    assert output.startswith("Deleted 2 request log rows from before ")
    assert "2/2" in capsys.readouterr().err  # the progress bar


def test_it_prunes_rows_older_than_the_given_days(settings):
    settings.APOLLO_REQUEST_LOG_RETENTION_DAYS = 90
    for days_old in (45, 31, 29, 1):
        log_row(days_old)

    prune("--days", "30")

    assert remaining_ages() == [1, 29]


def test_it_deletes_in_batches_of_primary_keys():
    for days_old in (40, 39, 38, 37, 36):
        log_row(days_old)

    with CaptureQueriesContext(connection) as queries:
        prune("--batch-size", "2")

    deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 3
    assert all('"id" IN (' in sql for sql in deletes)
    assert not RequestLog.objects.exists()


def test_it_only_counts_in_a_dry_run():
    for days_old in (45, 31, 29):
        log_row(days_old)

    output = prune("--dry-run")

    assert output.startswith("Would delete 2 request log rows from before ")
    assert RequestLog.objects.count() == 3


@pytest.mark.parametrize("option", ["--days", "--batch-size"])
def test_it_refuses_a_count_below_one(option):
    with pytest.raises(CommandError, match="must be at least 1"):
        call_command("prune_request_log", option, "0")
