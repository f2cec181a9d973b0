from django.core.management.base import BaseCommand

from leads.imports.recovery import lead_imports_stalled
from leads.tasks import resume_stalled_lead_imports


class Command(BaseCommand):
    help = (
        "Enqueue the import jobs that no worker runs (queued or running, untouched for "
        "APOLLO_IMPORT_STALE_SECONDS). The worker's beat does the same every minute."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="list, enqueue nothing")

    def handle(self, *args, dry_run, **options):
        if dry_run:
            job_ids = lead_imports_stalled(mark=False)
            for job_id in job_ids:
                self.stdout.write(str(job_id))
            self.stdout.write(f"{len(job_ids)} stalled import jobs; none enqueued.")
            return
        count = resume_stalled_lead_imports()
        self.stdout.write(f"Enqueued {count} stalled import jobs.")
