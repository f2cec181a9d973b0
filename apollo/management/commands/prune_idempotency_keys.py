from django.utils import timezone

from apollo.models import IdempotencyRecord
from apollo.pruning import PruneCommand


class Command(PruneCommand):
    help = "Delete idempotency keys past their retention (48 hours after their request)."
    model = IdempotencyRecord
    time_field = "expires_at"
    noun = "idempotency keys"
    cutoff_phrase = "that expired before"
    privileged_reason = "the idempotency key sweep deletes expired keys of every org"

    def cutoff(self, options):
        return timezone.now().replace(microsecond=0)
