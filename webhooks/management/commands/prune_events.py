from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apollo.pruning import PruneCommand, positive_int
from webhooks.models import Event


class Command(PruneCommand):
    help = "Delete the events of every org older than the retention period."
    model = Event
    noun = "events"
    privileged_reason = "the event retention sweep deletes old events of every org"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--days",
            type=positive_int,
            default=settings.APOLLO_EVENT_RETENTION_DAYS,
            help="keep events this many days",
        )

    def cutoff(self, options):
        return (timezone.now() - timedelta(days=options["days"])).replace(microsecond=0)
