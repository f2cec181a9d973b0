"""Finding the import jobs that no worker runs, so that they can be enqueued again.

Guarantees:
1. A job is stalled when it is queued or running and nothing has touched it for
   ``APOLLO_IMPORT_STALE_SECONDS``: its message was lost (the enqueue failed after the
   upload committed, the broker lost it) or its worker died and the message did not
   come back.
2. Enqueueing a job twice is harmless: a worker claims it first (``runner``, guarantee
   1); a second message finds it held or ended.
3. A queued job's heartbeat records when it was last enqueued, so a sweep every minute
   enqueues a job that waits its turn once per stale period, not at every sweep.
"""

from django.utils import timezone

from apollo.tenancy import privileged
from leads.imports.runner import stale
from leads.models import LeadImport

Status = LeadImport.Status
REASON = "the import sweep finds the stalled jobs of every org"


def lead_imports_stalled(*, mark: bool) -> list:
    """The ids of the stalled jobs, oldest first; with ``mark``, as enqueued now."""
    now = timezone.now()
    with privileged(REASON):
        stalled = LeadImport.objects.filter(stale(now), status__in=[Status.QUEUED, Status.RUNNING])
        job_ids = list(stalled.order_by("created_at").values_list("pk", flat=True))
        if mark and job_ids:
            LeadImport.objects.filter(pk__in=job_ids, status=Status.QUEUED).update(heartbeat_at=now)
    return job_ids
