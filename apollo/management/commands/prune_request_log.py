from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apollo.models import RequestLog
from apollo.pruning import PruneCommand, positive_int


class Command(PruneCommand):
    help = "Delete request log rows older than --days (default: the retention setting)."
    model = RequestLog
    noun = "request log rows"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--days",
            type=positive_int,
            default=settings.APOLLO_REQUEST_LOG_RETENTION_DAYS,
            help="keep rows younger than this many days",
        )

    def cutoff(self, options):
        return (timezone.now() - timedelta(days=options["days"])).replace(microsecond=0)
