from apollo.models import RequestLog
from apollo.pruning import PruneCommand


class Command(PruneCommand):
    help = "Delete request log rows older than --days (default: the retention setting)."
    model = RequestLog
    noun = "request log rows"
    retention_setting = "APOLLO_REQUEST_LOG_RETENTION_DAYS"
