"""Give every organization that lacks one its default pipeline.

Guarantees:
1. Idempotent: an org that has a default pipeline is left alone, so the command may be
   run again, or alongside the migration that does the same, at any time.
2. Each org is handled in its own transaction, scoped to that org (row-level security
   applies), so an org that fails is reported and rolled back alone.
3. ``--dry-run`` writes nothing and reports which orgs would get a pipeline.
"""

import logging

from django.core.management.base import BaseCommand
from tqdm import tqdm

from apollo.errors import ApiError
from apollo.tenancy import org_scope
from orgs.models import Organization
from pipelines import services
from pipelines.models import Pipeline

logger = logging.getLogger("pipelines.backfill")


class Command(BaseCommand):
    help = "Create the default pipeline (and its stages) of every org that has none."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be created; write nothing."
        )

    def handle(self, *args, dry_run=False, verbosity=1, **options):
        organizations = Organization.objects.order_by("created_at", "id")
        counts = {"created": 0, "present": 0, "failed": 0}
        progress = tqdm(
            organizations.iterator(chunk_size=500),
            total=organizations.count(),
            unit="org",
            disable=verbosity == 0,
        )
        for organization in progress:
            counts[self._backfill(organization, dry_run)] += 1

        verb = "would get" if dry_run else "got"
        self.stdout.write(
            f"{counts['created']} orgs {verb} a default pipeline, "
            f"{counts['present']} already had one, {counts['failed']} failed."
        )

    def _backfill(self, organization, dry_run: bool) -> str:
        try:
            with org_scope(organization.id):
                if Pipeline.objects.filter(organization=organization, is_default=True).exists():
                    return "present"
                if not dry_run:
                    services.pipeline_create_default(organization)
        except ApiError as error:
            # One org that cannot take it (its name taken by another pipeline) must
            # not stop the others.
            logger.warning(
                "default_pipeline_backfill_failed",
                extra={"org_id": str(organization.id), "code": error.code},
            )
            self.stderr.write(f"{organization.id}: {error.message}")
            return "failed"
        if not dry_run:
            logger.info("default_pipeline_backfilled", extra={"org_id": str(organization.id)})
        return "created"
