"""Running an import job: claimed once, written in batches, resumable after a crash.

Guarantees:
1. A job is claimed by one conditional UPDATE of its status: a queued job, or a
   running one whose heartbeat is older than ``APOLLO_IMPORT_STALE_SECONDS`` (its
   worker died). Two workers never both hold a fresh claim.
2. Each batch (``APOLLO_IMPORT_BATCH_SIZE`` rows) is one transaction in the job's org
   scope: its leads, activities, events and issues, the job's counters, ``next_row``
   and heartbeat commit together. The counters' UPDATE only matches while the job is
   still running from the row this batch started at, so a worker that lost its claim
   rolls its batch back instead of doubling it.
3. A resumed job starts reading at ``next_row``: the rows before it are committed and
   are neither written nor counted again.
4. ``cancel_requested`` is read after every batch; the job then ends ``cancelled``,
   keeping what was committed.
5. A file or setup problem ends the job ``failed`` with its reason in ``error``; an
   unexpected error too, after logging it. A lost database connection, or a worker
   killed outright, leaves the job ``running``: its heartbeat goes stale and the next
   run (the task's retry, or the message redelivered after the worker died) resumes it.
6. ``lead_import.completed`` is written in the transaction that completes the job.
"""

import enum
import logging

from django.db import InterfaceError, OperationalError, connection
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from apollo.logging import log_context
from apollo.tenancy import org_scope, privileged
from leads.imports import config
from leads.imports.context import ImportContext, ImportSetupError
from leads.imports.jobs import lead_import_data
from leads.imports.reading import UnreadableFile, detect_layout, records, unwrapped
from leads.imports.writer import Counts, write_batch
from leads.models import Lead, LeadImport
from webhooks.services import event_emit

logger = logging.getLogger("apollo.leads.imports")

Status = LeadImport.Status
# Leads created before the first refresh of the planner's statistics.
ANALYZE_AFTER = 2000
COUNTERS = ("rows", "created", "updated", "skipped", "failed", "warnings")


class Outcome(enum.StrEnum):
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    # Another worker holds a fresh claim on the job.
    BUSY = "busy"
    # No such job, or it has already ended.
    GONE = "gone"


class ClaimLost(Exception):
    """The job moved on without this worker (cancelled, or claimed by another)."""


def lead_import_run(job_id, *, batch_size: int | None = None, progress=None) -> Outcome:
    """Claim the job and run it from ``next_row`` to its end.

    ``progress``, when given, is called with the number of rows of each committed batch.
    """
    with privileged("a worker finds the org of the import job it was given"):
        organization_id = (
            LeadImport.objects.filter(pk=job_id).values_list("organization_id", flat=True).first()
        )
    if organization_id is None:
        return Outcome.GONE
    with log_context(org_id=organization_id):
        return _claim_and_run(job_id, organization_id, batch_size, progress)


def _claim_and_run(job_id, organization_id, batch_size, progress) -> Outcome:
    with org_scope(organization_id):
        job, outcome = _claim(job_id)
    if job is None:
        return outcome

    run = _Run(job, batch_size or config.batch_size(), progress)
    try:
        return run.execute()
    except ClaimLost:
        logger.warning("lead_import_claim_lost", extra={"lead_import_id": str(job.pk)})
        return Outcome.GONE
    except (ImportSetupError, UnreadableFile) as exc:
        return run.finish(Status.FAILED, str(exc))
    except (OperationalError, InterfaceError):
        # The database went away: the job stays running, and a retry of the task claims
        # it once its heartbeat is stale and resumes it.
        raise
    except Exception:
        logger.exception("lead_import_crashed", extra={"lead_import_id": str(job.pk)})
        return run.finish(
            Status.FAILED,
            "The import stopped on an unexpected error; the rows it counted are in.",
        )


def stale(now) -> Q:
    """Jobs nothing has touched for ``APOLLO_IMPORT_STALE_SECONDS``."""
    return Q(heartbeat_at__lt=now - config.stale_after()) | Q(heartbeat_at__isnull=True)


def _claim(job_id) -> tuple[LeadImport | None, Outcome | None]:
    now = timezone.now()
    claimable = Q(status=Status.QUEUED) | (Q(status=Status.RUNNING) & stale(now))
    claimed = LeadImport.objects.filter(claimable, pk=job_id).update(
        status=Status.RUNNING,
        heartbeat_at=now,
        started_at=Coalesce(F("started_at"), Value(now)),
    )
    job = LeadImport.objects.get(pk=job_id)
    if not claimed:
        return None, Outcome.BUSY if job.status == Status.RUNNING else Outcome.GONE
    return job, None


class _Run:
    def __init__(self, job: LeadImport, batch_size: int, progress):
        self.job = job
        self.batch_size = batch_size
        self.progress = progress
        self.next_row = job.next_row
        self.created = 0
        self.analyzed_at = 0

    def execute(self) -> Outcome:
        job = self.job
        logger.info(
            "lead_import_started",
            extra={"lead_import_id": str(job.pk), "next_row": job.next_row},
        )
        with org_scope(job.organization_id):
            context = ImportContext.load(job)
        if job.cancel_requested:
            return self.finish(Status.CANCELLED)

        with job.file.open("rb") as stored:
            binary = unwrapped(stored)
            layout = detect_layout(binary)
            batch = []
            for record in records(binary, layout, start=self.next_row):
                batch.append(record)
                if len(batch) == self.batch_size:
                    if self._commit(context, batch):
                        return self.finish(Status.CANCELLED)
                    batch = []
            if batch and self._commit(context, batch):
                return self.finish(Status.CANCELLED)
        return self.finish(Status.COMPLETED)

    def _commit(self, context: ImportContext, batch: list) -> bool:
        """Write one batch with the job's progress; whether a cancel was requested."""
        start, next_row = self.next_row, batch[-1].row + 1
        with org_scope(self.job.organization_id):
            _commit_without_waiting_for_disk()
            context.hold_stages()
            counts = write_batch(context, batch)
            advanced = LeadImport.objects.filter(
                pk=self.job.pk, status=Status.RUNNING, next_row=start
            ).update(next_row=next_row, heartbeat_at=timezone.now(), **_increments(counts))
            if not advanced:
                raise ClaimLost()
        self.next_row = next_row
        self.created += counts.created
        self._refresh_statistics()
        if self.progress is not None:
            self.progress(counts.rows)
        with org_scope(self.job.organization_id):
            return LeadImport.objects.filter(pk=self.job.pk, cancel_requested=True).exists()

    def _refresh_statistics(self) -> None:
        """Analyze the leads table each time this run has doubled what it created.

        Matching finds leads through the unique indexes only while the planner knows
        how many leads the org has; an import outgrows the statistics faster than
        autovacuum refreshes them, and the planner then scans the org's leads on every
        batch, which makes a big import quadratic. Only the org's column is analyzed:
        the statistics of emails and external ids hold as the table grows, and all
        columns cost five times as much.
        """
        if self.created < max(ANALYZE_AFTER, 2 * self.analyzed_at):
            return
        quote = connection.ops.quote_name
        column = quote(Lead._meta.get_field("organization").column)
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {quote(Lead._meta.db_table)} ({column})")
        self.analyzed_at = self.created

    def finish(self, status: str, error: str = "") -> Outcome:
        job, now = self.job, timezone.now()
        with org_scope(job.organization_id):
            ended = LeadImport.objects.filter(pk=job.pk, status=Status.RUNNING).update(
                status=status, finished_at=now, heartbeat_at=now, error=error[:500]
            )
            job.refresh_from_db()
            if ended and status == Status.COMPLETED:
                event_emit(
                    organization_id=job.organization_id,
                    type="lead_import.completed",
                    data={"lead_import": lead_import_data(job)},
                )
        logger.info(
            "lead_import_ended",
            extra={
                "lead_import_id": str(job.pk),
                "status": job.status,
                # "created" names a field of every log record: prefix the counters.
                **{f"rows_{name}": getattr(job, name) for name in COUNTERS if name != "rows"},
                "rows": job.rows,
            },
        )
        return Outcome(job.status) if ended else Outcome.GONE


def _commit_without_waiting_for_disk() -> None:
    """Let the batch's commit return before its write-ahead log reaches the disk.

    A crash may then lose the last batches that were reported committed, but only
    whole: each batch's rows and the job's ``next_row`` share one transaction, so the
    resumed job reads those rows again. Waiting for the disk at every batch costs an
    import a tenth of its time.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")


def _increments(counts: Counts) -> dict:
    # ``rows`` is the file's row count, taken at upload; the other counters grow.
    return {name: F(name) + getattr(counts, name) for name in COUNTERS if name != "rows"}
