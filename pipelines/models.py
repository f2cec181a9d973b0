import uuid

from django.db import models
from django.db.models.functions import Lower

from apollo.models import TenantModel


class Pipeline(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    is_default = models.BooleanField(default=False)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(is_default=True),
                name="pipeline_one_default_per_org",
            ),
            models.UniqueConstraint(
                "organization",
                Lower("name"),
                condition=models.Q(archived_at__isnull=True),
                name="pipeline_name_ci_unique",
            ),
        ]
        indexes = [models.Index(fields=["organization", "-created_at", "-id"])]

    def __str__(self):
        return self.name


class StageKind(models.TextChoices):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class Stage(TenantModel):
    """A column of a pipeline. Active stages hold positions 0..n-1; archived ones none."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=StageKind.choices, default=StageKind.OPEN)
    position = models.PositiveIntegerField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "created_at"]
        constraints = [
            # Deferred, so a reorder may pass through duplicate positions inside its
            # transaction; archived stages hold NULL, which never collides.
            models.UniqueConstraint(
                fields=["pipeline", "position"],
                name="stage_position_unique",
                deferrable=models.Deferrable.DEFERRED,
            ),
            models.UniqueConstraint(
                "pipeline",
                Lower("name"),
                condition=models.Q(archived_at__isnull=True),
                name="stage_name_ci_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(archived_at__isnull=True, position__isnull=False)
                | models.Q(archived_at__isnull=False, position__isnull=True),
                name="stage_position_iff_active",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.kind != StageKind.OPEN
