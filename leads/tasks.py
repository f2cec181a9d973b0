import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from leads.imports import Outcome, lead_import_run
from leads.imports import config as import_config
from leads.imports.recovery import lead_imports_stalled

logger = logging.getLogger("apollo.leads")


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=60,
    retry_backoff_max=600,
    max_retries=5,
)
def run_lead_import(self, job_id: str) -> str:
    """Run an import job; safe to deliver twice (the job is claimed, batches resume).

    A job another worker still holds (its heartbeat is fresh) is retried once that
    heartbeat could have gone stale: the message redelivered after a worker was killed,
    or the retry after the database went away, resumes the job then.
    """
    outcome = lead_import_run(job_id)
    if outcome is Outcome.BUSY:
        logger.info("lead_import_busy", extra={"lead_import_id": job_id})
        raise self.retry(countdown=int(import_config.stale_after().total_seconds()) + 1)
    return outcome.value


@shared_task(acks_late=True)
def resume_stalled_lead_imports() -> int:
    """Enqueue the import jobs no worker runs; the beat schedule sends this every minute."""
    job_ids = lead_imports_stalled(mark=True)
    for job_id in job_ids:
        logger.warning("lead_import_stalled", extra={"lead_import_id": str(job_id)})
        run_lead_import.delay(str(job_id))
    return len(job_ids)
