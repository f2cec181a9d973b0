from apollo.pruning import PruneCommand
from webhooks.models import Event


class Command(PruneCommand):
    help = "Delete the events of every org older than --days (default: the retention setting)."
    model = Event
    noun = "events"
    privileged_reason = "the event retention sweep deletes old events of every org"
    retention_setting = "APOLLO_EVENT_RETENTION_DAYS"
