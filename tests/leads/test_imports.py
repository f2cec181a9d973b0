"""Lead imports through the API: upload, the worker's result, duplicates, issues, access."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apollo.tenancy import org_scope, privileged
from leads.models import Activity, Lead, LeadImport, LeadImportIssue
from pipelines.models import Pipeline, Stage
from tests.conftest import Client
from tests.leads.conftest import error, events, invalid, iso, lead_body, make_field, make_lead
from tests.leads.import_files import (
    HEADER,
    csv_bytes,
    jsonl_bytes,
    phone_of,
    row,
    rows,
    uploaded,
)

pytestmark = pytest.mark.django_db

NOT_FOUND = "No lead import with this id in this organization."


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def post_file(client, content: bytes, name="leads.csv", **options):
    body = {"file": uploaded(content, name)}
    for key, value in options.items():
        if key == "mapping":
            value = json.dumps(value)
        body[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return client.post("/v1/lead-imports", body, format="multipart")


@pytest.fixture
def run_import(client_for, member, django_capture_on_commit_callbacks):
    """Upload as ``member`` (or ``user``) and let the queued task run; the job after."""

    def run(content: bytes, *, user=None, name="leads.csv", **options) -> LeadImport:
        with django_capture_on_commit_callbacks(execute=True):
            response = post_file(client_for(user or member), content, name, **options)
        assert response.status_code == 201, response.json()
        return stored_job(response.json()["id"])

    return run


def stored_job(job_id) -> LeadImport:
    with privileged("a test reads an import job"):
        return LeadImport.objects.get(pk=job_id)


def counters(job: LeadImport) -> dict:
    names = ("status", "rows", "created", "updated", "skipped", "failed", "warnings")
    return {name: getattr(job, name) for name in names}


def leads_of(org) -> list[Lead]:
    with org_scope(org.id):
        return list(Lead.objects.select_related("stage").order_by("created_at", "email"))


def lead_by_email(org, email) -> Lead:
    with org_scope(org.id):
        return Lead.objects.select_related("stage").get(email__iexact=email)


def issues_of(job: LeadImport) -> list[tuple]:
    with org_scope(job.organization_id):
        return list(
            LeadImportIssue.objects.filter(job=job)
            .order_by("row", "id")
            .values_list("severity", "row", "column", "code")
        )


def activity_types(lead) -> list[str]:
    with org_scope(lead.organization_id):
        return sorted(Activity.objects.filter(lead=lead).values_list("type", flat=True))


# Upload and the job


def test_it_answers_the_queued_job_and_the_worker_imports_the_file(
    client_for, org, member, pipeline, django_capture_on_commit_callbacks
):
    client = client_for(member)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = post_file(client, csv_bytes(rows(3)))

    assert response.status_code == 201, response.json()
    job = stored_job(response.json()["id"])
    assert response.json() == {
        "id": str(job.id),
        "status": "queued",
        "file_name": "leads.csv",
        "file_format": "csv",
        "pipeline_id": str(pipeline.id),
        "match_key": "email",
        "on_duplicate": "skip",
        "default_region": "US",
        "create_missing_stages": False,
        "mapping": None,
        "columns": [
            {"column": column, "field": field}
            for column, field in [
                ("Index", None),
                ("Account Id", "external_id"),
                ("Lead Owner", "owner"),
                ("First Name", "first_name"),
                ("Last Name", "last_name"),
                ("Company", "company_name"),
                ("Phone 1", "phone"),
                ("Phone 2", None),
                ("Email 1", "email"),
                ("Email 2", None),
                ("Website", "website"),
                ("Source", "source"),
                ("Deal Stage", "stage"),
                ("Notes", "notes"),
            ]
        ],
        "rows": 3,
        "created": 0,
        "updated": 0,
        "skipped": 0,
        "failed": 0,
        "warnings": 0,
        "cancel_requested": False,
        "error": None,
        "created_by_id": str(member.id),
        "created_at": iso(job.created_at),
        "started_at": None,
        "finished_at": None,
    }
    assert len(queued) == 1 and leads_of(org) == []

    queued[0]()

    body = client.get(f"/v1/lead-imports/{job.id}").json()
    job = stored_job(job.id)
    assert body | {"started_at": None, "finished_at": None} == response.json() | {
        "status": "completed",
        "created": 3,
        "warnings": 3,
    }
    assert body["started_at"] == iso(job.started_at)
    assert body["finished_at"] == iso(job.finished_at)
    assert job.started_at <= job.finished_at
    assert job.next_row == 4


def test_it_imports_the_public_samples_columns_into_lead_fields(run_import, org, stages):
    run_import(csv_bytes([row(1), row(2)]))

    lead = lead_by_email(org, "cody.salinas1@example.com")
    assert (lead.contact_name, lead.company_name) == ("Cody Salinas", "Blankenship Inc")
    assert (lead.phone, lead.phone_extension) == phone_of(1)
    assert lead.website == "https://salinas1.example.com/"
    assert lead.source == "Cold Call"
    assert lead.external_id == row(1)["Account Id"]
    assert lead.stage == stages[1]
    assert lead.owner_id is None
    assert activity_types(lead) == ["lead_imported", "note_added"]


def test_it_writes_the_timeline_as_the_uploader(run_import, org, member):
    job = run_import(csv_bytes([row(1)]))

    lead = lead_by_email(org, row(1)["Email 1"])
    with org_scope(org.id):
        activities = {a.type: a for a in Activity.objects.filter(lead=lead)}
    imported, note = activities["lead_imported"], activities["note_added"]
    assert (imported.actor_type, imported.actor_id) == ("user", member.id)
    assert imported.data == {"import_id": str(job.id), "row": 1, "action": "created"}
    assert note.data == {"body": "Note 1: partner school law vote."}
    assert lead.last_activity_at == imported.created_at


def test_it_emits_each_lead_in_the_shape_of_the_api_and_the_jobs_completion(run_import, org):
    job = run_import(csv_bytes(rows(2)))

    created = {event.data["id"]: event.data for event in events(org, "lead.created")}
    assert created == {str(lead.id): lead_body(lead) for lead in leads_of(org)}
    [completed] = events(org, "lead_import.completed")
    assert completed.data["lead_import"] | {"id": str(job.id)} == {
        "id": str(job.id),
        "status": "completed",
        "file_name": "leads.csv",
        "rows": 2,
        "created": 2,
        "updated": 0,
        "skipped": 0,
        "failed": 0,
        "warnings": 2,
        "created_at": completed.data["lead_import"]["created_at"],
        "started_at": completed.data["lead_import"]["started_at"],
        "finished_at": completed.data["lead_import"]["finished_at"],
    }


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252"])
def test_it_imports_each_common_encoding(run_import, org, encoding):
    accented = row(1, **{"First Name": "Zoë", "Last Name": "Müller-Ibáñez"})

    job = run_import(csv_bytes([accented, row(2)], encoding=encoding))

    assert (job.status, job.created, job.failed) == ("completed", 2, 0)
    assert lead_by_email(org, accented["Email 1"]).contact_name == "Zoë Müller-Ibáñez"


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_it_imports_semicolon_and_tab_separated_files(run_import, org, delimiter):
    data = [row(1, Notes="a, b; c"), row(2, Company="Mooney, Salinas and Ali")]

    job = run_import(csv_bytes(data, delimiter=delimiter), name="leads.txt")

    assert (job.created, job.failed) == (2, 0)
    assert lead_by_email(org, data[1]["Email 1"]).company_name == "Mooney, Salinas and Ali"


def test_it_imports_notes_with_quoted_newlines_as_one_row(run_import, org):
    data = [row(1, Notes='Called twice.\nNo answer;\r\n"try" again'), row(2)]

    job = run_import(csv_bytes(data))

    assert (job.rows, job.created) == (2, 2)
    lead = lead_by_email(org, data[0]["Email 1"])
    with org_scope(org.id):
        note = Activity.objects.get(lead=lead, type="note_added")
    assert note.data == {"body": 'Called twice.\nNo answer;\r\n"try" again'}


def test_it_imports_json_lines(run_import, org):
    data = [row(1), {"Name": "Ada Lovelace", "Email": "ada@example.com", "Tags": ["VIP", "b"]}]

    job = run_import(jsonl_bytes(data), name="leads.jsonl")

    assert (job.file_format, job.created, job.failed) == ("jsonl", 2, 0)
    ada = lead_by_email(org, "ada@example.com")
    assert (ada.contact_name, ada.tags) == ("Ada Lovelace", ["vip", "b"])


# Bad rows and left-out values


def test_it_reports_rows_that_cannot_make_a_lead_and_imports_the_others(run_import, org):
    content = (
        csv_bytes(
            [
                row(1),
                row(2, **{"First Name": "", "Last Name": " "}),
                row(3, **{"Email 1": "not-an-email"}),
            ]
        )
        + b"4,a,broken,row\r\n"
        + csv_bytes([row(5)]).split(b"\n", 1)[1]
    )
    content = content.replace(b"\r\n\r\n", b"\r\n")

    job = run_import(content)

    assert counters(job) | {"warnings": None} == {
        "status": "completed",
        "rows": 5,
        "created": 2,
        "updated": 0,
        "skipped": 0,
        "failed": 3,
        "warnings": None,
    }
    assert [issue for issue in issues_of(job) if issue[0] == "error"] == [
        ("error", 2, "First Name, Last Name", "name_missing"),
        ("error", 3, "Email 1", "email_invalid"),
        ("error", 4, "", "row_malformed"),
    ]
    assert sorted(lead.email for lead in leads_of(org)) == sorted(
        [row(1)["Email 1"], row(5)["Email 1"]]
    )


def test_it_reports_a_broken_json_line_and_imports_the_others(run_import, org):
    content = jsonl_bytes([{"Name": "Ada"}]) + b'{"Name": "Bob"\n' + jsonl_bytes([{"Name": "Cy"}])

    job = run_import(content, name="leads.jsonl")

    assert (job.created, job.failed) == (2, 1)
    assert issues_of(job) == [("error", 2, "", "row_malformed")]


def test_it_takes_no_json_object_boolean_or_stray_list_for_text(run_import, org):
    data = [
        {"Name": {"first": "Ada"}, "Email": "ada@example.com"},
        {"Name": "Bob", "Email": ["bob@example.com"]},
        {"Name": "Cy", "Email": "cy@example.com", "Company": True, "Tags": ["vip", 7]},
        {"Name": "Di", "Email": "di@example.com", "Tags": [{"x": 1}], "Phone": 4155550123},
    ]

    job = run_import(jsonl_bytes(data), name="leads.jsonl")

    assert (job.created, job.failed) == (2, 2)
    assert issues_of(job) == [
        ("error", 1, "Name", "value_invalid"),
        ("error", 2, "Email", "value_invalid"),
        ("warning", 3, "Company", "value_invalid"),
        ("warning", 4, "Tags", "value_invalid"),
    ]
    with org_scope(org.id):
        first, *_, last = LeadImportIssue.objects.filter(job=job).order_by("row")
    assert (first.message, first.value) == (
        "A JSON object cannot be the lead's contact_name.",
        '{"first": "Ada"}',
    )
    assert (last.message, last.value) == (
        "A list is not a value of this field; left out.",
        '[{"x": 1}]',
    )
    cy, di = lead_by_email(org, "cy@example.com"), lead_by_email(org, "di@example.com")
    assert (cy.company_name, cy.tags) == ("", ["vip", "7"])
    assert (di.tags, di.phone) == ([], "+14155550123")


def test_it_leaves_out_a_phone_it_cannot_read_and_keeps_the_raw_value(
    run_import, client_for, org, member
):
    data = [row(n) for n in range(1, 5)] + [row(5, **{"Phone 1": "call me maybe"})]

    job = run_import(csv_bytes(data))

    assert job.created == 5
    for n in range(1, 5):
        lead = lead_by_email(org, row(n)["Email 1"])
        assert (lead.phone, lead.phone_extension) == phone_of(n)
    assert lead_by_email(org, data[4]["Email 1"]).phone == ""
    response = client_for(member).get(
        f"/v1/lead-imports/{job.id}/errors", {"severity": "warning", "limit": 200}
    )
    [phone_warning] = [item for item in response.json()["items"] if item["row"] == 5][:1]
    assert phone_warning == {
        "severity": "warning",
        "row": 5,
        "column": "Phone 1",
        "code": "phone_invalid",
        "message": "Not a phone number that can be written in E.164 (region US); left out.",
        "value": "call me maybe",
    }


def test_it_reads_phones_in_the_default_region(run_import, org):
    job = run_import(csv_bytes([row(1, **{"Phone 1": "011 5555 1234"})]), default_region="BR")

    assert job.created == 1
    assert lead_by_email(org, row(1)["Email 1"]).phone == "+551155551234"


def test_it_puts_a_lead_of_an_unknown_stage_in_the_first_stage_with_a_warning(
    run_import, org, stages
):
    job = run_import(csv_bytes([row(4, **{"Deal Stage": "On Hold", "Lead Owner": ""})]))

    assert lead_by_email(org, row(4)["Email 1"]).stage == stages[0]
    assert issues_of(job) == [("warning", 1, "Deal Stage", "stage_unknown")]


def test_it_adds_a_missing_stage_when_asked(run_import, org, pipeline):
    run_import(
        csv_bytes([row(n, **{"Deal Stage": "On Hold"}) for n in (1, 2)]),
        create_missing_stages=True,
    )

    with org_scope(org.id):
        on_hold = Stage.objects.get(pipeline=pipeline, name="On Hold")
    assert on_hold.position == 7
    assert {lead.stage_id for lead in leads_of(org)} == {on_hold.id}


@pytest.mark.parametrize("create_missing_stages", [False, True])
def test_it_puts_a_closed_deal_of_another_crm_in_the_closing_stage_of_its_kind(
    run_import, org, pipeline, stages, create_missing_stages
):
    names = ["Closed Won", "closed-lost", "Deal Won", "LOST"]
    data = [row(n, **{"Deal Stage": name}) for n, name in enumerate(names, start=1)]

    job = run_import(csv_bytes(data), create_missing_stages=create_missing_stages)

    won, lost = stages[5], stages[6]
    assert (won.name, lost.name) == ("Won", "Lost")
    assert [lead_by_email(org, values["Email 1"]).stage for values in data] == [
        won,
        lost,
        won,
        lost,
    ]
    assert [code for _, _, _, code in issues_of(job) if code.startswith("stage")] == []
    with org_scope(org.id):
        assert pipeline.stages.count() == len(stages)


def test_it_assigns_owners_by_member_email_or_name_and_reports_strangers(
    run_import, org, member, admin
):
    data = [
        row(1, **{"Lead Owner": "max member"}),
        row(2, **{"Lead Owner": "ADMIN@example.com"}),
        row(3, **{"Lead Owner": "Selena Doyle"}),
    ]

    job = run_import(csv_bytes(data))

    owners = [lead_by_email(org, values["Email 1"]).owner_id for values in data]
    assert owners == [member.id, admin.id, None]
    assert ("warning", 3, "Lead Owner", "owner_unknown") in issues_of(job)


def test_it_fills_custom_fields_tags_and_value_from_their_columns(run_import, org):
    make_field(org, "industry", type="select", options=["Tech", "Retail"])
    make_field(org, "team_size", type="number", label="Team Size")
    header = [*HEADER, "Industry", "Team Size", "Tags", "Value", "Unknown Column"]
    data = [
        row(1, Industry="tech", **{"Team Size": "12"}, Tags="VIP, big  deal,vip", Value="1,250.50"),
        row(2, Industry="Mining", **{"Team Size": "many"}, Value="$-3"),
    ]

    job = run_import(csv_bytes(data, header=header))

    first, second = (lead_by_email(org, values["Email 1"]) for values in data)
    assert first.custom_fields == {"industry": "Tech", "team_size": 12}
    assert (first.tags, first.value_cents) == (["vip", "big deal"], 125050)
    assert (second.custom_fields, second.value_cents) == ({}, 0)
    assert stored_job(job.id).options["columns"][-5:] == [
        {"column": "Industry", "field": "custom_fields.industry"},
        {"column": "Team Size", "field": "custom_fields.team_size"},
        {"column": "Tags", "field": "tags"},
        {"column": "Value", "field": "value"},
        {"column": "Unknown Column", "field": None},
    ]
    codes = {(issue[2], issue[3]) for issue in issues_of(job) if issue[1] == 2}
    assert codes >= {
        ("Industry", "custom_value_invalid"),
        ("Team Size", "custom_value_invalid"),
        ("Value", "value_invalid"),
    }


def test_a_nul_character_in_a_row_neither_fails_the_row_nor_the_job(run_import, org):
    data = [row(1, **{"First Name": "Al\x00ice"}), row(2)]

    job = run_import(csv_bytes(data))

    assert counters(job) | {"warnings": 0} == {
        "status": "completed",
        "rows": 2,
        "created": 2,
        "updated": 0,
        "skipped": 0,
        "failed": 0,
        "warnings": 0,
    }
    assert lead_by_email(org, data[0]["Email 1"]).contact_name.startswith("Alice ")


def test_it_follows_an_explicit_mapping(run_import, org):
    mapping = {"Email 2": "email", "Email 1": None, "Notes": "company_name", "Phone 1": None}

    job = run_import(csv_bytes([row(1)]), mapping=mapping)

    lead = lead_by_email(org, row(1)["Email 2"])
    assert (lead.company_name, lead.phone) == (row(1)["Notes"], "")
    assert stored_job(job.id).options["mapping"] == mapping
    assert {
        target["column"]: target["field"]
        for target in stored_job(job.id).options["columns"]
        if target["column"] in mapping
    } == mapping


# Duplicates


def test_it_creates_nothing_when_the_same_file_is_imported_again(run_import, org):
    content = csv_bytes(rows(4))
    run_import(content)
    before = (len(leads_of(org)), len(events(org)))

    again = run_import(content)

    assert counters(again) == {
        "status": "completed",
        "rows": 4,
        "created": 0,
        "updated": 0,
        "skipped": 4,
        "failed": 0,
        "warnings": 0,
    }
    assert (len(leads_of(org)), len(events(org))) == (before[0], before[1] + 1)


@pytest.mark.parametrize("on_duplicate", ["skip", "update", "error"])
def test_it_creates_nothing_new_on_a_rerun_in_any_mode(run_import, org, on_duplicate):
    content = csv_bytes(rows(3))
    run_import(content, on_duplicate=on_duplicate)

    again = run_import(content, on_duplicate=on_duplicate)

    assert again.created == 0
    assert len(leads_of(org)) == 3


def test_it_skips_rows_that_match_a_lead_or_an_earlier_row(run_import, org):
    existing = make_lead(org, contact_name="Old", email=row(1)["Email 1"].upper())
    data = [row(1), row(2), row(3, **{"Email 1": row(2)["Email 1"], "Account Id": "other"})]

    job = run_import(csv_bytes(data))

    assert (job.created, job.skipped, job.failed) == (1, 2, 0)
    assert lead_by_email(org, existing.email).contact_name == "Old"


def test_it_updates_matches_with_the_values_a_row_gives(run_import, org, stages):
    existing = make_lead(
        org,
        contact_name="Old",
        email=row(1)["Email 1"],
        company_name="Old Co",
        phone="+15551234567",
    )
    data = [
        row(1, Company="", Website="https://new.example/"),
        row(2, Company="First"),
        row(
            3,
            **{"Email 1": row(2)["Email 1"], "Account Id": row(2)["Account Id"]},
            Company="Second",
        ),
    ]

    job = run_import(csv_bytes(data), on_duplicate="update")

    assert (job.created, job.updated, job.skipped, job.failed) == (1, 2, 0, 0)
    updated = lead_by_email(org, existing.email)
    assert (updated.contact_name, updated.company_name) == ("Cody Salinas", "Old Co")
    assert updated.website == "https://new.example/"
    assert updated.stage == stages[1]
    assert lead_by_email(org, row(2)["Email 1"]).company_name == "Second"
    with org_scope(org.id):
        changes = {
            a.data["field"]: (a.data["before"], a.data["after"])
            for a in Activity.objects.filter(lead=updated, type="field_updated")
        }
        stage_change = Activity.objects.get(lead=updated, type="stage_changed").data
    assert changes["contact_name"] == ("Old", "Cody Salinas")
    assert changes["website"] == ("", "https://new.example/")
    assert "company_name" not in changes
    assert stage_change == {
        "from": {"id": str(stages[0].id), "name": stages[0].name},
        "to": {"id": str(stages[1].id), "name": stages[1].name},
    }
    [updated_event] = events(org, "lead.updated")
    assert updated_event.data == lead_body(updated)
    assert [e.data["id"] for e in events(org, "lead.stage_changed")] == [str(updated.id)]


def test_it_imports_into_the_pipeline_it_is_given_and_moves_updated_leads_there(
    run_import, org, pipeline, stages, other_pipeline, other_stages
):
    existing = make_lead(org, contact_name="Old", email=row(1)["Email 1"])
    data = [row(1, **{"Deal Stage": "signed"}), row(2, **{"Deal Stage": "Qualified"})]

    job = run_import(
        csv_bytes(data), pipeline_id=other_pipeline.id, on_duplicate="update", match_key="email"
    )

    assert (job.created, job.updated) == (1, 1)
    moved, new = lead_by_email(org, existing.email), lead_by_email(org, row(2)["Email 1"])
    assert (moved.pipeline_id, moved.stage_id) == (other_pipeline.id, other_stages[1].id)
    assert (new.pipeline_id, new.stage_id) == (other_pipeline.id, other_stages[0].id)
    with org_scope(org.id):
        pipeline_moved = Activity.objects.get(lead=moved, type="pipeline_moved").data
    assert pipeline_moved == {
        "from": {"id": str(pipeline.id), "name": "Sales"},
        "to": {"id": str(other_pipeline.id), "name": "Partners"},
    }
    assert issues_of(job) == [
        ("warning", 1, "Lead Owner", "owner_unknown"),
        ("warning", 2, "Deal Stage", "stage_unknown"),
        ("warning", 2, "Lead Owner", "owner_unknown"),
    ]


def test_it_reports_matches_as_errors_when_asked(run_import, org):
    existing = make_lead(org, contact_name="Old", email=row(1)["Email 1"])
    data = [row(1), row(2), row(3, **{"Email 1": row(2)["Email 1"], "Account Id": "x"})]

    job = run_import(csv_bytes(data), on_duplicate="error")

    assert (job.created, job.failed) == (1, 2)
    with org_scope(org.id):
        messages = dict(
            LeadImportIssue.objects.filter(job=job, severity="error").values_list("row", "message")
        )
    assert messages == {
        1: f"A lead with this email already exists (lead {existing.id}).",
        3: "A lead with this email already exists (row 2 of this file).",
    }


def test_it_matches_by_external_id_when_asked(run_import, org):
    existing = make_lead(
        org, contact_name="Old", email="old@example.com", external_id=row(1)["Account Id"]
    )

    job = run_import(csv_bytes([row(1)]), match_key="external_id", on_duplicate="update")

    assert (job.created, job.updated) == (0, 1)
    lead = lead_by_email(org, row(1)["Email 1"])
    assert lead.id == existing.id


def test_it_refuses_a_row_whose_email_and_external_id_name_two_leads(run_import, org):
    make_lead(org, contact_name="A", email=row(1)["Email 1"])
    make_lead(org, contact_name="B", email="b@example.com", external_id=row(1)["Account Id"])

    job = run_import(csv_bytes([row(1)]), on_duplicate="update")

    assert (job.updated, job.failed) == (0, 1)
    assert issues_of(job) == [("error", 1, "Email 1", "lead_conflict")]


# Checks at upload


def test_it_refuses_a_file_over_the_size_limit(client_for, org, member, settings):
    settings.APOLLO_IMPORT_MAX_BYTES = 1000
    content = csv_bytes(rows(10))

    response = post_file(client_for(member), content)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    with org_scope(org.id):
        assert not LeadImport.objects.exists()


def test_it_refuses_a_file_over_the_row_limit_without_cutting_it(client_for, org, member, settings):
    settings.APOLLO_IMPORT_MAX_ROWS = 3

    response = post_file(client_for(member), csv_bytes(rows(4)))

    assert response.status_code == 413
    message = (
        "The file has more than 3 rows; an import takes at most 3. Split it into smaller files."
    )
    assert response.json() == error(response, "payload_too_large", message)


def test_it_takes_a_file_of_a_few_megabytes(run_import, settings):
    settings.APOLLO_MAX_BODY_BYTES = 10 * 1024 * 1024
    content = csv_bytes(rows(4500))
    assert len(content) > 1024 * 1024

    job = run_import(content)

    assert (job.rows, job.created, job.failed) == (4500, 4500, 0)


@pytest.mark.parametrize(
    ("content", "field", "code", "message"),
    [
        (b"", "file", "empty", "The submitted file is empty."),
        (b"Name,Email\r\n", "file", "no_rows", "The file has no data rows."),
        (
            b"PK\x03\x04xlsx",
            "file",
            "unreadable_file",
            "The file is an Excel workbook or a zip archive; save it as CSV (or JSON lines) first.",
        ),
        (
            b"Company,Email\r\nAcme,a@example.com\r\n",
            "mapping",
            "name_column_missing",
            "No column gives the lead's name: map one to contact_name, or columns to "
            "first_name and last_name.",
        ),
    ],
)
def test_it_refuses_a_file_no_lead_can_come_from(client_for, member, content, field, code, message):
    response = post_file(client_for(member), content)

    assert response.status_code == 400
    assert response.json() == invalid(response, (field, code, message))


def test_it_refuses_a_mapping_to_unknown_columns_or_fields(client_for, member):
    mapping = {"Nope": "email", "Notes": "favourite_colour"}

    response = post_file(client_for(member), csv_bytes(rows(1)), mapping=mapping)

    assert response.status_code == 400
    [nope, notes] = response.json()["error"]["details"]
    assert (nope["field"], nope["code"]) == ("mapping.Nope", "unknown_column")
    assert (notes["field"], notes["code"]) == ("mapping.Notes", "unknown_field")


@pytest.mark.parametrize(
    ("mapping", "code", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "invalid", "Value must be valid JSON."),
        (
            '{"Notes\\u0000": null}',
            "null_characters_not_allowed",
            "Null characters are not allowed.",
        ),
    ],
)
def test_it_refuses_a_mapping_it_cannot_read(client_for, member, mapping, code, message):
    body = {"file": uploaded(csv_bytes(rows(1))), "mapping": mapping}

    response = client_for(member).post(
        "/v1/lead-imports", body, format="multipart", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert response.status_code == 400
    assert response.json() == invalid(response, ("mapping", code, message))


def test_it_answers_a_multipart_body_without_a_boundary_with_malformed_body(client_for, member):
    response = client_for(member).post(
        "/v1/lead-imports", data=b"file=x", content_type="multipart/form-data"
    )

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "malformed_body",
        "message": "The request body cannot be read: Multipart form parse error - "
        "Invalid boundary in multipart: None",
        "request_id": response["X-Request-Id"],
    }


def test_it_replays_a_refusal_that_quotes_a_nul_character_of_the_upload(client_for, member):
    client = client_for(member)

    def upload():
        body = {"file": uploaded(csv_bytes(rows(1))), "default_region": "U\x00S"}
        return client.post("/v1/lead-imports", body, format="multipart", HTTP_IDEMPOTENCY_KEY="k")

    first, again = upload(), upload()

    assert first.status_code == 400
    assert first.json()["error"]["details"][0]["field"] == "default_region"
    assert (again.status_code, again.json()) == (400, first.json())
    assert again["Idempotent-Replayed"] == "true"


def test_it_refuses_another_orgs_pipeline_and_bad_options(client_for, member, other_org):
    with org_scope(other_org.id):
        foreign = Pipeline.objects.get(is_default=True).id

    response = post_file(
        client_for(member), csv_bytes(rows(1)), pipeline_id=foreign, match_key="phone"
    )

    assert response.status_code == 400
    assert {d["field"] for d in response.json()["error"]["details"]} == {"match_key"}
    response = post_file(client_for(member), csv_bytes(rows(1)), pipeline_id=foreign)
    assert response.json() == invalid(
        response,
        ("pipeline_id", "not_found", "No active pipeline with this id in this organization."),
    )


# Reading jobs and their issues


def test_it_lists_issues_in_row_order_and_filters_them_by_severity(run_import, client_for, member):
    data = [row(1, **{"Email 1": "bad"}), row(2, **{"Phone 1": "?"}), row(3, **{"Email 1": "x"})]
    job = run_import(csv_bytes(data))
    client = client_for(member)

    errors = client.get(f"/v1/lead-imports/{job.id}/errors", {"severity": "error"}).json()
    everything, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/v1/lead-imports/{job.id}/errors", params).json()
        everything += [(item["row"], item["code"]) for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break

    assert errors == {
        "items": [
            {
                "severity": "error",
                "row": 1,
                "column": "Email 1",
                "code": "email_invalid",
                "message": "The email address is not valid.",
                "value": "bad",
            },
            {
                "severity": "error",
                "row": 3,
                "column": "Email 1",
                "code": "email_invalid",
                "message": "The email address is not valid.",
                "value": "x",
            },
        ],
        "next_cursor": None,
    }
    assert everything == [
        (1, "email_invalid"),
        (2, "phone_invalid"),
        (2, "owner_unknown"),
        (3, "email_invalid"),
    ]


def test_it_lists_imports_newest_first_and_by_status(run_import, client_for, member):
    first = run_import(csv_bytes(rows(1)))
    second = run_import(csv_bytes(rows(1, start=2)))
    client = client_for(member)

    listed = client.get("/v1/lead-imports").json()
    queued = client.get("/v1/lead-imports", {"status": "queued"}).json()

    assert [item["id"] for item in listed["items"]] == [str(second.id), str(first.id)]
    assert queued == {"items": [], "next_cursor": None}


def test_it_lists_imports_in_the_same_number_of_queries_however_many(
    run_import, client_for, member
):
    client = client_for(member)

    def list_queries(count: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/v1/lead-imports", {"limit": 200})
        assert len(response.json()["items"]) == count
        return len(queries)

    run_import(csv_bytes([row(1)]))
    one = list_queries(1)
    for n in range(2, 6):
        run_import(csv_bytes([row(n)]))

    assert list_queries(5) == one


def test_it_lists_issues_in_the_same_number_of_queries_however_many(run_import, client_for, member):
    few = run_import(csv_bytes([row(n, **{"Email 1": "bad"}) for n in range(1, 3)]))
    many = run_import(csv_bytes([row(n, **{"Email 1": "bad"}) for n in range(1, 40)]))
    client = client_for(member)

    def list_queries(job) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/v1/lead-imports/{job.id}/errors", {"limit": 200})
        assert len(response.json()["items"]) == job.failed
        return len(queries)

    assert list_queries(few) == list_queries(many)


# Cancelling


def test_it_cancels_a_queued_import_before_any_row(
    client_for, org, member, django_capture_on_commit_callbacks
):
    client = client_for(member)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        job_id = post_file(client, csv_bytes(rows(3))).json()["id"]

    response = client.post(f"/v1/lead-imports/{job_id}/cancel")
    queued[0]()

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["cancel_requested"]) == ("cancelled", True)
    assert response.json()["finished_at"] is not None
    assert counters(stored_job(job_id))["created"] == 0
    assert leads_of(org) == []
    assert client.post(f"/v1/lead-imports/{job_id}/cancel").status_code == 200


def test_it_refuses_to_cancel_a_finished_import(run_import, client_for, member):
    job = run_import(csv_bytes(rows(1)))

    response = client_for(member).post(f"/v1/lead-imports/{job.id}/cancel")

    assert response.status_code == 409
    assert response.json() == error(
        response, "lead_import_finished", "The import has already completed."
    )


# Access


def test_it_lets_a_viewer_read_imports_but_not_upload_or_cancel(run_import, client_for, viewer):
    job = run_import(csv_bytes(rows(1)))
    client = client_for(viewer)

    assert client.get(f"/v1/lead-imports/{job.id}").status_code == 200
    assert client.get(f"/v1/lead-imports/{job.id}/errors").status_code == 200
    refused = post_file(client, csv_bytes(rows(1)))
    assert refused.status_code == 403
    assert refused.json() == error(
        refused, "permission_denied", "Your role does not allow this action."
    )
    assert client.post(f"/v1/lead-imports/{job.id}/cancel").status_code == 403


@pytest.fixture
def foreign_job(outsider, other_org, django_capture_on_commit_callbacks) -> LeadImport:
    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(Client(outsider, other_org), csv_bytes(rows(1)))
    return stored_job(response.json()["id"])


@pytest.mark.parametrize("suffix", ["", "/errors", "/cancel"])
def test_it_answers_404_for_another_orgs_import(client_for, member, foreign_job, suffix):
    method = "post" if suffix == "/cancel" else "get"

    response = getattr(client_for(member), method)(f"/v1/lead-imports/{foreign_job.id}{suffix}")

    assert response.status_code == 404
    assert response.json() == error(response, "lead_import_not_found", NOT_FOUND)
    assert stored_job(foreign_job.id).status == "completed"


def test_it_never_lists_another_orgs_import(client_for, member, foreign_job):
    assert client_for(member).get("/v1/lead-imports").json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("suffix", ["", "/errors", "/cancel"])
def test_it_answers_404_for_a_malformed_import_id(client_for, member, suffix):
    method = "post" if suffix == "/cancel" else "get"

    response = getattr(client_for(member), method)(f"/v1/lead-imports/not-a-uuid{suffix}")

    assert response.status_code == 404
    assert response.json() == error(response, "lead_import_not_found", NOT_FOUND)
