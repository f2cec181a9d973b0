"""The shape of every retention sweep: old rows deleted in short batches.

Guarantees:
1. Rows go in batches of primary keys, each batch its own transaction: one DELETE over
   millions of rows would hold its locks and grow the write-ahead log for as long as
   it runs, and an interrupted run would lose all of its work.
2. A sweep over a tenant table crosses orgs, so every batch runs in
   ``privileged(reason)``; the reason is logged.
3. ``--dry-run`` counts what would go and deletes nothing.
"""

import argparse
import contextlib
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone
from tqdm import tqdm

from apollo.tenancy import privileged

logger = logging.getLogger("apollo.pruning")


def positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


class PruneCommand(BaseCommand):
    """Subclasses name the ``model``, its ``time_field``, what its rows are called
    (``noun``) and, for a tenant table, the ``privileged_reason``. Rows expire
    ``--days`` after their time, by default the setting ``retention_setting`` names;
    or a subclass says when in ``cutoff()``."""

    model = None
    time_field = "created_at"
    noun = "rows"
    # How the cutoff reads after the noun: "from before" a creation time, or "that
    # expired before" an expiry time.
    cutoff_phrase = "from before"
    privileged_reason: str | None = None
    retention_setting: str | None = None

    def cutoff(self, options) -> datetime:
        """Rows whose time is before this have expired."""
        return (timezone.now() - timedelta(days=options["days"])).replace(microsecond=0)

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=positive_int, default=5000)
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")
        if self.retention_setting:
            parser.add_argument(
                "--days",
                type=positive_int,
                default=getattr(settings, self.retention_setting),
                help=f"keep {self.noun} younger than this many days ({self.retention_setting})",
            )

    def handle(self, *args, batch_size, dry_run, verbosity, **options):
        cutoff = self.cutoff(options)
        when = f"{cutoff:%Y-%m-%d %H:%M:%S}Z"
        with self._scope():
            total = self._expired(cutoff).count()
        if dry_run:
            self.stdout.write(f"Would delete {total} {self.noun} {self.cutoff_phrase} {when}.")
            return

        deleted = 0
        with tqdm(total=total, unit="row", disable=verbosity == 0) as progress:
            while count := self._delete_batch(cutoff, batch_size):
                deleted += count
                progress.update(count)
        logger.info(
            "rows_pruned",
            extra={"table": self.model._meta.db_table, "deleted": deleted, "cutoff": when},
        )
        self.stdout.write(f"Deleted {deleted} {self.noun} {self.cutoff_phrase} {when}.")

    def _expired(self, cutoff):
        return self.model.objects.filter(**{f"{self.time_field}__lt": cutoff})

    def _delete_batch(self, cutoff, batch_size) -> int:
        # Oldest first, along the time field's index: an interrupted run has removed the
        # oldest rows, and each batch is a short index range scan.
        with self._scope():
            expired = self._expired(cutoff).order_by(self.time_field)
            ids = list(expired.values_list("pk", flat=True)[:batch_size])
            if not ids:
                return 0
            _, per_model = self.model.objects.filter(pk__in=ids).delete()
        return per_model.get(self.model._meta.label, 0)

    def _scope(self):
        if self.privileged_reason is None:
            return contextlib.nullcontext()
        return privileged(self.privileged_reason)
