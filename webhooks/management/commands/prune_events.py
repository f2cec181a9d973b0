"""Delete the events of every org that are older than the retention period."""

import argparse
import logging
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone
from tqdm import tqdm

from apollo.tenancy import privileged
from webhooks.models import Event

logger = logging.getLogger("apollo.webhooks")

REASON = "the event retention sweep deletes old events of every org"


def positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


class Command(BaseCommand):
    help = "Delete events older than the retention period, in batches."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=positive_int,
            default=getattr(settings, "APOLLO_EVENT_RETENTION_DAYS", 30),
            help="keep events this many days (default: APOLLO_EVENT_RETENTION_DAYS or 30)",
        )
        parser.add_argument("--batch-size", type=positive_int, default=5000)
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args, days, batch_size, dry_run, verbosity, **options):
        cutoff = timezone.now() - timedelta(days=days)
        with privileged(REASON):
            expired = Event.objects.filter(created_at__lt=cutoff).count()

        if dry_run:
            self.stdout.write(
                f"Would delete {expired} events created before {cutoff:%Y-%m-%d %H:%M}Z."
            )
            return

        deleted = 0
        with tqdm(total=expired, unit="event", disable=verbosity < 1) as progress:
            while (batch := self._delete_batch(cutoff, batch_size)) is not None:
                deleted += batch
                progress.update(batch)

        logger.info("events_pruned", extra={"deleted": deleted, "cutoff": cutoff.isoformat()})
        self.stdout.write(f"Deleted {deleted} events created before {cutoff:%Y-%m-%d %H:%M}Z.")

    def _delete_batch(self, cutoff, batch_size) -> int | None:
        """Delete up to ``batch_size`` expired events, by primary key, in one transaction.

        Answers how many it deleted, or None once no expired event is left.

        Short transactions keep row locks and WAL per commit small while the API keeps
        writing. The batch is not sorted: any expired rows will do, and the created_at
        index finds them without ordering the whole expired range.
        """
        with privileged(REASON):
            expired = Event.objects.filter(created_at__lt=cutoff)
            ids = list(expired.values_list("pk", flat=True)[:batch_size])
            if not ids:
                return None
            _, per_model = Event.objects.filter(pk__in=ids).delete()
        return per_model.get(Event._meta.label, 0)
