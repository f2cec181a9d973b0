"""Import jobs: created from an upload after the file is checked, and cancelled."""

import os

import phonenumbers
from django.db.models import Q
from django.utils import timezone

from apollo.errors import ApiError, Conflict, ValidationFailed
from leads.imports import config
from leads.imports.mapping import Mapper, Plan, custom_keys, mapping_problems
from leads.imports.reading import (
    JSONL,
    TooManyRows,
    UnreadableFile,
    detect_layout,
    scan,
    unwrapped,
)
from leads.models import LeadField, LeadImport
from pipelines.models import Pipeline

DEFAULT_OPTIONS = {
    "mapping": None,
    "pipeline_id": None,
    "match_key": "email",
    "on_duplicate": "skip",
    "default_region": "US",
    "create_missing_stages": False,
}
MATCH_KEYS = ("email", "external_id")
ON_DUPLICATE = ("skip", "update", "error")
KEPT_SUFFIXES = {".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json"}


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


def lead_import_create(*, organization, user, upload, options: dict) -> LeadImport:
    """Check an uploaded file and the options, store the file and record a queued job.

    The whole file is read once here, streaming: a file over the size or row limit is
    refused (413), never cut short, and a file that no row of could make a lead (no
    header, no name column, no rows) is refused before a worker sees it. Queuing the
    job is the caller's part, after the commit.
    """
    options = {**DEFAULT_OPTIONS, **{k: v for k, v in options.items() if v is not None}}
    _check_options(options)
    if upload.size > config.max_bytes():
        raise PayloadTooLarge(
            f"The file has {upload.size} bytes; an import takes at most "
            f"{config.max_bytes()} bytes. Split it into smaller files."
        )
    layout, found = _inspect(upload)
    options["pipeline_id"] = str(_pipeline(organization, options["pipeline_id"]).pk)
    plan = _checked_plan(organization, options["mapping"], found.columns)
    options["columns"] = plan.targets(found.columns)

    job = LeadImport(
        organization=organization,
        created_by=user,
        file_name=os.path.basename(upload.name or "upload")[:255],
        file_format=layout.format,
        options=options,
        rows=found.rows,
        # Enqueued now, by the caller's commit: the stalled-job sweep waits from here.
        heartbeat_at=timezone.now(),
    )
    job.file.save(f"{organization.pk}/{job.pk}{_suffix(upload.name, layout)}", upload, save=False)
    job.save()
    return job


def _check_options(options: dict) -> None:
    if options["match_key"] not in MATCH_KEYS:
        raise ValidationFailed.for_field("match_key", "Must be email or external_id.")
    if options["on_duplicate"] not in ON_DUPLICATE:
        raise ValidationFailed.for_field("on_duplicate", "Must be skip, update or error.")
    region = str(options["default_region"]).upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationFailed.for_field(
            "default_region", "Must be a two-letter region code, such as US or BR."
        )
    options["default_region"] = region


def _inspect(upload):
    file = unwrapped(upload)
    try:
        layout = detect_layout(file)
        found = scan(file, layout, config.max_rows())
    except TooManyRows as exc:
        raise PayloadTooLarge(
            f"The file has more than {exc.limit} rows; an import takes at most "
            f"{exc.limit}. Split it into smaller files."
        ) from None
    except UnreadableFile as exc:
        raise ValidationFailed.for_field("file", str(exc), code="unreadable_file") from None
    finally:
        file.seek(0)
    if not found.rows:
        raise ValidationFailed.for_field("file", "The file has no data rows.", code="no_rows")
    return layout, found


def _pipeline(organization, pipeline_id) -> Pipeline:
    pipelines = Pipeline.objects.filter(organization=organization, archived_at__isnull=True)
    if pipeline_id is None:
        pipeline = pipelines.filter(is_default=True).first()
    else:
        pipeline = pipelines.filter(pk=pipeline_id).first()
    if pipeline is None:
        raise ValidationFailed.for_field(
            "pipeline_id", "No active pipeline with this id in this organization.", "not_found"
        )
    return pipeline


def _checked_plan(organization, explicit, columns) -> Plan:
    definitions = LeadField.objects.filter(organization=organization)
    keys = custom_keys(list(definitions.values_list("key", "label")))
    problems = mapping_problems(explicit or {}, columns, keys)
    if problems:
        raise ValidationFailed(details=problems)
    plan = Mapper(explicit, keys).plan(columns)
    if not plan.has_name:
        raise ValidationFailed.for_field(
            "mapping",
            "No column gives the lead's name: map one to contact_name, or columns to "
            "first_name and last_name.",
            code="name_column_missing",
        )
    return plan


def _suffix(name: str | None, layout) -> str:
    suffix = os.path.splitext(name or "")[1].lower()
    if suffix in KEPT_SUFFIXES:
        return suffix
    return ".jsonl" if layout.format == JSONL else ".csv"


def lead_import_cancel(job: LeadImport) -> LeadImport:
    """Stop a job: at once when no worker holds it, else at its worker's next batch.

    Each step is one conditional update, so a worker claiming or finishing the job at
    the same moment cannot be overwritten.
    """
    now = timezone.now()
    jobs = LeadImport.objects.filter(organization_id=job.organization_id, pk=job.pk)
    unheld = Q(status=LeadImport.Status.QUEUED) | Q(
        status=LeadImport.Status.RUNNING, heartbeat_at__lt=now - config.stale_after()
    )
    if not jobs.filter(unheld).update(
        status=LeadImport.Status.CANCELLED, cancel_requested=True, finished_at=now
    ):
        jobs.filter(status=LeadImport.Status.RUNNING).update(cancel_requested=True)
    job.refresh_from_db()
    if job.status in (LeadImport.Status.COMPLETED, LeadImport.Status.FAILED):
        raise Conflict(f"The import has already {job.status}.", code="lead_import_finished")
    return job


def lead_import_data(job: LeadImport) -> dict:
    """The job's outcome, for the body of ``lead_import.completed``."""
    fields = ("status", "file_name", "rows", "created", "updated", "skipped", "failed")
    data = {"id": job.pk, **{name: getattr(job, name) for name in fields}}
    data.update(
        warnings=job.warnings,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )
    return data
