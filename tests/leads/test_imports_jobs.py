"""Running import jobs: batches, cancelling, crashes and resuming, claims, the command."""

import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from apollo.tenancy import org_scope, privileged
from leads import tasks
from leads.imports import Outcome, lead_import_create, lead_import_run, runner, writer
from leads.imports.jobs import PayloadTooLarge
from leads.models import Lead, LeadImport, LeadImportIssue
from pipelines import services as pipeline_services
from tests.conftest import Client
from tests.leads.conftest import events, make_lead
from tests.leads.import_files import csv_bytes, row, rows, uploaded
from webhooks.signals import event_committed

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside: nothing of the job's own code runs after it."""


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def queue_job(org, member):
    """A job recorded as the upload records it, not yet run."""

    def queue(content: bytes, **options) -> LeadImport:
        with org_scope(org.id):
            return lead_import_create(
                organization=org, user=member, upload=uploaded(content), options=options
            )

    return queue


def stored(job) -> LeadImport:
    with privileged("a test reads an import job"):
        return LeadImport.objects.get(pk=job.pk)


def counters(job) -> tuple:
    job = stored(job)
    return (job.status, job.next_row, job.created, job.updated, job.skipped, job.failed)


def emails(org) -> list[str]:
    with org_scope(org.id):
        return sorted(Lead.objects.values_list("email", flat=True))


def expected_emails(count: int) -> list[str]:
    return sorted(values["Email 1"] for values in rows(count))


@pytest.fixture
def crash_on_batch(monkeypatch):
    """Make the writer raise ``error`` on batch ``number``, after the earlier ones committed."""

    def install(number: int, error: BaseException):
        calls = []
        write_batch = writer.write_batch

        def failing(context, records):
            calls.append(len(records))
            if len(calls) == number:
                raise error
            return write_batch(context, records)

        monkeypatch.setattr(runner, "write_batch", failing)
        return calls

    return install


# Batches


def test_it_commits_each_batch_with_the_jobs_progress(queue_job, org):
    job = queue_job(csv_bytes(rows(5)))
    seen = []

    outcome = lead_import_run(job.pk, batch_size=2, progress=seen.append)

    assert outcome is Outcome.COMPLETED
    assert seen == [2, 2, 1]
    assert counters(job) == ("completed", 6, 5, 0, 0, 0)
    assert emails(org) == expected_emails(5)


def test_it_announces_each_event_of_a_batch_once_the_batch_commits(
    queue_job, org, django_capture_on_commit_callbacks
):
    job = queue_job(csv_bytes(rows(3)))
    announced = []

    def receiver(sender, event_id, organization_id, type, **kwargs):
        announced.append((event_id, organization_id, type))

    event_committed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            lead_import_run(job.pk, batch_size=2)
    finally:
        event_committed.disconnect(receiver)

    stored_events = [(event.id, org.id, event.type) for event in events(org)]
    assert sorted(announced) == sorted(stored_events)
    assert sorted(type for _, _, type in announced) == [
        "lead.created",
        "lead.created",
        "lead.created",
        "lead_import.completed",
    ]


def test_it_refreshes_the_orgs_lead_statistics_each_time_the_import_doubles_them(
    queue_job, monkeypatch
):
    monkeypatch.setattr(runner, "ANALYZE_AFTER", 2)
    job = queue_job(csv_bytes(rows(9)))
    analyzed = []

    def record_analyze(execute, sql, params, many, context):
        # Recorded, not run: statistics outlive the test's rollback and would steer the
        # plans of later tests.
        if sql.startswith("ANALYZE"):
            return analyzed.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record_analyze):
        lead_import_run(job.pk, batch_size=2)

    # After 2, 4 and 8 created leads, and only the column the plans of matching rely on.
    assert analyzed == ['ANALYZE "leads_lead" ("organization_id")'] * 3


def test_it_runs_a_queued_job_from_the_task(queue_job, org):
    job = queue_job(csv_bytes(rows(2)))

    assert tasks.run_lead_import.delay(str(job.pk)).get() == "completed"
    assert tasks.run_lead_import.delay(str(job.pk)).get() == "gone"
    assert emails(org) == expected_emails(2)


def test_a_stage_archived_while_a_job_runs_gets_no_lead_of_the_later_batches(
    queue_job, org, stages
):
    data = [row(n, **{"Deal Stage": "Qualified", "Lead Owner": ""}) for n in range(1, 5)]
    job = queue_job(csv_bytes(data))
    qualified, target = stages[1], stages[2]

    batches = []

    def archive_after_the_first_batch(rows):
        batches.append(rows)
        if len(batches) == 1:
            with org_scope(org.id):
                pipeline_services.stage_update(qualified, archived=True, target_stage_id=target.id)

    lead_import_run(job.pk, batch_size=2, progress=archive_after_the_first_batch)

    with org_scope(org.id):
        placed = sorted(Lead.objects.values_list("stage__name", flat=True))
        reported = list(
            LeadImportIssue.objects.filter(job_id=job.pk).order_by("row").values_list("row", "code")
        )
    assert placed == ["In conversation", "In conversation", "New lead", "New lead"]
    assert reported == [(3, "stage_unknown"), (4, "stage_unknown")]


# Crashes and resuming


def test_it_resumes_a_job_whose_worker_died_without_doubling_a_lead(
    queue_job, org, crash_on_batch, monkeypatch
):
    job = queue_job(csv_bytes(rows(6)))
    crash_on_batch(2, WorkerKilled())

    with pytest.raises(WorkerKilled):
        lead_import_run(job.pk, batch_size=2)

    assert counters(job) == ("running", 3, 2, 0, 0, 0)
    assert emails(org) == expected_emails(2)
    assert lead_import_run(job.pk, batch_size=2) is Outcome.BUSY

    monkeypatch.undo()
    with privileged("a test lets the heartbeat go stale"):
        stale = timezone.now() - datetime.timedelta(minutes=6)
        LeadImport.objects.filter(pk=job.pk).update(heartbeat_at=stale)
    assert lead_import_run(job.pk, batch_size=2) is Outcome.COMPLETED

    assert counters(job) == ("completed", 7, 6, 0, 0, 0)
    assert emails(org) == expected_emails(6)
    assert len(events(org, "lead.created")) == 6
    assert len(events(org, "lead_import.completed")) == 1


def test_it_fails_a_job_cleanly_on_an_unexpected_error_keeping_committed_rows(
    queue_job, org, crash_on_batch, caplog
):
    job = queue_job(csv_bytes(rows(6)))
    crash_on_batch(2, RuntimeError("disk on fire"))

    outcome = lead_import_run(job.pk, batch_size=2)

    assert outcome is Outcome.FAILED
    assert counters(job) == ("failed", 3, 2, 0, 0, 0)
    assert stored(job).error == (
        "The import stopped on an unexpected error; the rows it counted are in."
    )
    assert emails(org) == expected_emails(2)
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "lead_import_crashed"
    ]
    assert lead_import_run(job.pk) is Outcome.GONE


def test_it_rolls_a_batch_back_when_another_worker_took_the_job(queue_job, org):
    job = queue_job(csv_bytes(rows(4)))

    def taken_over(count):
        with privileged("a test plays a second worker"):
            LeadImport.objects.filter(pk=job.pk).update(next_row=5, created=4)

    outcome = lead_import_run(job.pk, batch_size=2, progress=taken_over)

    assert outcome is Outcome.GONE
    assert counters(job) == ("running", 5, 4, 0, 0, 0)
    assert emails(org) == expected_emails(2)


def test_it_reports_a_row_whose_lead_someone_created_meanwhile(queue_job, org, monkeypatch):
    job = queue_job(csv_bytes(rows(2)))
    load_matches = writer.Batch.load_matches

    def and_meanwhile(batch, drafts):
        load_matches(batch, drafts)
        make_lead(org, contact_name="Quick", email=row(2)["Email 1"].upper())

    monkeypatch.setattr(writer.Batch, "load_matches", and_meanwhile)

    lead_import_run(job.pk)

    assert counters(job) == ("completed", 3, 1, 0, 0, 1)
    with org_scope(org.id):
        issue = LeadImportIssue.objects.get(job=job, severity="error")
    assert (issue.row, issue.code) == (2, "lead_duplicate")
    assert len(events(org, "lead.created")) == 2


# Cancelling


def test_it_stops_a_running_job_after_the_batch_it_is_writing(queue_job, org, member):
    job = queue_job(csv_bytes(rows(6)))
    client = Client(member, org)
    answers = []

    def cancel_once(count):
        if not answers:
            answers.append(client.post(f"/v1/lead-imports/{job.pk}/cancel").json())

    outcome = lead_import_run(job.pk, batch_size=2, progress=cancel_once)

    assert outcome is Outcome.CANCELLED
    assert (answers[0]["status"], answers[0]["cancel_requested"]) == ("running", True)
    assert counters(job) == ("cancelled", 3, 2, 0, 0, 0)
    assert stored(job).finished_at is not None
    assert emails(org) == expected_emails(2)
    assert events(org, "lead_import.completed") == []


def test_it_cancels_at_once_a_running_job_whose_worker_is_gone(queue_job, org, member):
    job = queue_job(csv_bytes(rows(2)))
    with privileged("a test plays a dead worker"):
        stale = timezone.now() - datetime.timedelta(hours=1)
        LeadImport.objects.filter(pk=job.pk).update(status="running", heartbeat_at=stale)

    response = Client(member, org).post(f"/v1/lead-imports/{job.pk}/cancel")

    assert response.json()["status"] == "cancelled"
    assert lead_import_run(job.pk) is Outcome.GONE
    assert emails(org) == []


# The sweep of stalled jobs


def age(job, *, minutes: int, **fields) -> None:
    with privileged("a test lets time pass"):
        at = timezone.now() - datetime.timedelta(minutes=minutes)
        LeadImport.objects.filter(pk=job.pk).update(heartbeat_at=at, **fields)


def test_the_sweep_runs_jobs_whose_message_was_lost_or_whose_worker_died(
    queue_job, org, crash_on_batch, monkeypatch
):
    lost = queue_job(csv_bytes(rows(2)))
    crashed = queue_job(csv_bytes(rows(4, start=3)))
    crash_on_batch(2, WorkerKilled())
    with pytest.raises(WorkerKilled):
        lead_import_run(crashed.pk, batch_size=2)
    monkeypatch.undo()
    age(lost, minutes=6)
    age(crashed, minutes=6)

    assert tasks.resume_stalled_lead_imports.delay().get() == 2

    assert counters(lost) == ("completed", 3, 2, 0, 0, 0)
    assert counters(crashed) == ("completed", 5, 4, 0, 0, 0)
    assert emails(org) == expected_emails(6)


def test_the_sweep_leaves_fresh_and_ended_jobs_alone(queue_job, org):
    fresh = queue_job(csv_bytes(rows(1)))
    live = queue_job(csv_bytes(rows(1, start=2)))
    age(live, minutes=1, status="running")
    ended = queue_job(csv_bytes(rows(1, start=3)))
    age(ended, minutes=60, status="cancelled")

    assert tasks.resume_stalled_lead_imports.delay().get() == 0

    assert [stored(job).status for job in (fresh, live, ended)] == [
        "queued",
        "running",
        "cancelled",
    ]
    assert emails(org) == []


def test_the_sweep_enqueues_a_waiting_job_once_per_stale_period(queue_job, monkeypatch):
    job = queue_job(csv_bytes(rows(1)))
    age(job, minutes=6)
    enqueued = []
    monkeypatch.setattr(tasks.run_lead_import, "delay", enqueued.append)

    first = tasks.resume_stalled_lead_imports.run()
    second = tasks.resume_stalled_lead_imports.run()

    assert (first, second) == (1, 0)
    assert enqueued == [str(job.pk)]
    assert stored(job).status == "queued"


def test_the_resume_command_lists_stalled_jobs_in_a_dry_run(queue_job):
    job = queue_job(csv_bytes(rows(1)))
    age(job, minutes=6)
    out = io.StringIO()

    call_command("resume_lead_imports", "--dry-run", stdout=out)

    assert out.getvalue() == f"{job.pk}\n1 stalled import jobs; none enqueued.\n"
    assert stored(job).status == "queued"


# The task and the limits


def test_it_retries_the_task_while_another_worker_holds_the_job(queue_job, monkeypatch):
    job = queue_job(csv_bytes(rows(1)))
    with privileged("a test plays a live worker"):
        LeadImport.objects.filter(pk=job.pk).update(status="running", heartbeat_at=timezone.now())
    retried = []

    class Retry(Exception):
        pass

    def retry(**kwargs):
        retried.append(kwargs)
        return Retry()

    monkeypatch.setattr(tasks.run_lead_import, "retry", retry)

    with pytest.raises(Retry):
        tasks.run_lead_import.run(str(job.pk))
    assert retried == [{"countdown": 301}]


def test_it_refuses_a_file_over_the_size_limit_however_it_arrives(org, member, settings):
    settings.APOLLO_IMPORT_MAX_BYTES = 100

    content = csv_bytes(rows(2))

    with pytest.raises(PayloadTooLarge) as raised, org_scope(org.id):
        lead_import_create(organization=org, user=member, upload=uploaded(content), options={})

    assert raised.value.message == (
        f"The file has {len(content)} bytes; an import takes at most 100 bytes. Split it into "
        "smaller files."
    )


# The command


def test_the_command_imports_a_file_through_the_same_job(org, member, tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(csv_bytes(rows(5), delimiter=";"))
    out = io.StringIO()

    call_command(
        "import_leads",
        str(path),
        "--org",
        str(org.id),
        "--as-user",
        member.email.upper(),
        "--batch-size",
        "2",
        stdout=out,
        stderr=io.StringIO(),
    )

    with org_scope(org.id):
        job = LeadImport.objects.get()
    assert out.getvalue() == (
        f"Import {job.pk} completed: 5 rows, 5 created, 0 updated, 0 skipped, 0 failed, "
        "7 warnings.\n"
    )
    assert (job.created_by_id, job.file_name, job.next_row) == (member.id, "export.csv", 6)
    assert emails(org) == expected_emails(5)


def test_the_command_refuses_what_the_api_refuses(org, tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"Company\r\nAcme\r\n")

    with pytest.raises(CommandError, match="No column gives the lead's name"):
        call_command("import_leads", str(path), "--org", str(org.id), stderr=io.StringIO())
    with pytest.raises(CommandError, match="not a member"):
        call_command(
            "import_leads", str(path), "--org", str(org.id), "--as-user", "nobody@example.com"
        )


# Support admin


def test_support_sees_import_jobs_of_every_org_and_the_rows_each_left_out(support, queue_job, org):
    job = queue_job(csv_bytes([row(1, **{"Email 1": "bad"}), row(2, **{"Phone 1": "?"})]))
    lead_import_run(job.pk)
    other = queue_job(csv_bytes([row(3, **{"Email 1": "worse"})]))
    lead_import_run(other.pk)

    jobs = support.get("/admin/leads/leadimport/", {"organization_id": str(org.id)})
    page = support.get(f"/admin/leads/leadimport/{job.pk}/change/")
    issues = support.get("/admin/leads/leadimportissue/", {"job": str(job.pk)})

    assert {j.pk for j in jobs.context["cl"].result_list} == {job.pk, other.pk}
    assert f'href="/admin/leads/leadimportissue/?job={job.pk}"' in page.text
    assert [(i.row, i.code) for i in issues.context["cl"].result_list] == [
        (1, "email_invalid"),
        (2, "phone_invalid"),
        (2, "owner_unknown"),
    ]
