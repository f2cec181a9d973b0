import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from apollo.models import TenantModel


class Event(TenantModel):
    """Something that happened in an org: the outbox of webhook delivery.

    Written by ``webhooks.services.event_emit`` in the transaction of the change it
    reports, served by ``GET /v1/events`` and pruned after the retention period.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64)
    # Indexed alone for the retention sweep, which crosses orgs.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The encoder lets emitters pass ids and timestamps as they are.
    data = models.JSONField(encoder=DjangoJSONEncoder)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"]),
            models.Index(fields=["organization", "type", "-created_at", "-id"]),
        ]

    def __str__(self):
        return f"{self.type} {self.id}"
