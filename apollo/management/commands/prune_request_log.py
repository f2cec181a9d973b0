"""Delete request log rows older than the retention period.

Rows go in batches of primary keys, each batch its own short transaction: one
DELETE over millions of rows would hold its locks and bloat the WAL for as long as it
runs, and could not be interrupted without losing all of its work.
"""

import argparse
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone
from tqdm import tqdm

from apollo.models import RequestLog


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


class Command(BaseCommand):
    help = "Delete request log rows older than --days (default: the retention setting)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=positive_int,
            default=settings.APOLLO_REQUEST_LOG_RETENTION_DAYS,
            help="keep rows younger than this many days",
        )
        parser.add_argument("--batch-size", type=positive_int, default=5000)
        parser.add_argument("--dry-run", action="store_true", help="count the rows, delete nothing")

    def handle(self, *args, days, batch_size, dry_run, verbosity, **options):
        cutoff = (timezone.now() - timedelta(days=days)).replace(microsecond=0)
        expired = RequestLog.objects.filter(created_at__lt=cutoff)
        total = expired.count()

        if dry_run:
            self.stdout.write(
                f"Would delete {total} request log rows from before {cutoff.isoformat()}."
            )
            return

        deleted = 0
        with tqdm(total=total, unit="row", disable=verbosity == 0) as progress:
            while batch := self._next_batch(expired, batch_size):
                count, _ = RequestLog.objects.filter(pk__in=batch).delete()
                deleted += count
                progress.update(count)
        self.stdout.write(f"Deleted {deleted} request log rows from before {cutoff.isoformat()}.")

    def _next_batch(self, expired, batch_size) -> list[int]:
        # Oldest first, along the created_at index: an interrupted run has removed the
        # oldest rows, and each batch is a short index range scan.
        return list(expired.order_by("created_at").values_list("pk", flat=True)[:batch_size])
