import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from apollo.models import TenantModel


class LeadField(TenantModel):
    """The definition of a custom field that leads of this org may carry."""

    class Type(models.TextChoices):
        TEXT = "text"
        LONG_TEXT = "long_text"
        NUMBER = "number"
        DATE = "date"
        SELECT = "select"
        MULTI_SELECT = "multi_select"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    key = models.SlugField(max_length=64)
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=20, choices=Type.choices)
    options = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="lead_field_key_unique")
        ]
        indexes = [models.Index(fields=["organization", "-created_at", "-id"])]

    def __str__(self):
        return self.key


class Lead(TenantModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Not indexed alone: the unique constraints and the list's indexes start with it.
    organization = models.ForeignKey(
        "orgs.Organization",
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
        db_index=False,
    )
    pipeline = models.ForeignKey(
        "pipelines.Pipeline", on_delete=models.PROTECT, related_name="leads"
    )
    stage = models.ForeignKey("pipelines.Stage", on_delete=models.PROTECT, related_name="leads")
    contact_name = models.CharField(max_length=200)
    company_name = models.CharField(max_length=200, blank=True, default="")
    # Stored as given; unique per org compared case-insensitively.
    email = models.EmailField(max_length=254, blank=True, default="")
    # lower(email), kept by the database. Row-level security keeps non-leakproof
    # functions such as lower() out of index conditions, so the unique index and the
    # duplicate lookups compare this plain column instead.
    email_ci = models.GeneratedField(
        expression=Lower("email"),
        output_field=models.CharField(max_length=254),
        db_persist=True,
    )
    phone = models.CharField(max_length=16, blank=True, default="", help_text="E.164")
    phone_extension = models.CharField(max_length=10, blank=True, default="")
    website = models.CharField(max_length=500, blank=True, default="")
    source = models.CharField(max_length=100, blank=True, default="")
    owner = models.ForeignKey(
        "orgs.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    value_cents = models.BigIntegerField(default=0)
    # NULL, not "", when unset: the unique constraint applies to set values only.
    external_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "email_ci"],
                condition=~models.Q(email_ci=""),
                name="lead_email_ci_unique",
            ),
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="lead_external_id_unique",
            ),
        ]
        # One index per order the list offers, each ending in id for the keyset. No
        # index serves q or tag: row-level security keeps their operators (LIKE, @>),
        # which are not leakproof, out of index conditions, so trigram and GIN indexes
        # would cost every write and serve no read.
        indexes = [
            models.Index(fields=["organization", "-created_at", "-id"], name="lead_created_idx"),
            models.Index(fields=["organization", "-updated_at", "-id"], name="lead_updated_idx"),
            models.Index(fields=["organization", "value_cents", "id"], name="lead_value_idx"),
            models.Index(
                fields=["organization", "stage", "-created_at", "-id"], name="lead_stage_idx"
            ),
            models.Index(
                fields=["organization", "pipeline", "-created_at", "-id"],
                name="lead_pipeline_idx",
            ),
            models.Index(
                fields=["organization", "owner", "-created_at", "-id"], name="lead_owner_idx"
            ),
        ]

    def __str__(self):
        return self.contact_name


class ActorType(models.TextChoices):
    USER = "user"
    AGENT = "agent"
    SYSTEM = "system"


class Activity(TenantModel):
    """One entry of a lead's append-only timeline."""

    class Type(models.TextChoices):
        LEAD_CREATED = "lead_created"
        LEAD_IMPORTED = "lead_imported"
        STAGE_CHANGED = "stage_changed"
        PIPELINE_MOVED = "pipeline_moved"
        ASSIGNMENT_CHANGED = "assignment_changed"
        FIELD_UPDATED = "field_updated"
        NOTE_ADDED = "note_added"
        CALL_LOGGED = "call_logged"
        MEETING_LOGGED = "meeting_logged"
        EMAIL_RECEIVED = "email_received"
        WHATSAPP_RECEIVED = "whatsapp_received"

    CLIENT_TYPES = (Type.NOTE_ADDED, Type.CALL_LOGGED, Type.MEETING_LOGGED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Not indexed alone: activity_lead_idx starts with it. The lead is, for the cascade
    # from a lead, which knows no org.
    organization = models.ForeignKey(
        "orgs.Organization",
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
        db_index=False,
    )
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities")
    type = models.CharField(max_length=30, choices=Type.choices)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_id = models.UUIDField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                fields=["organization", "lead", "-created_at", "-id"], name="activity_lead_idx"
            )
        ]

    def __str__(self):
        return f"{self.type} on {self.lead_id}"


class LeadImport(TenantModel):
    """A bulk import job: a stored upload, its options and its counters."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    file = models.FileField(upload_to="lead-imports/")
    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=10, default="csv")
    options = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        "orgs.User", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    warnings = models.PositiveIntegerField(default=0)
    # Rows before this one are committed: a resumed job starts here.
    next_row = models.PositiveIntegerField(default=1)
    cancel_requested = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A running job's last sign of life from its worker; a queued job's last enqueueing.
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "-created_at", "-id"])]

    def __str__(self):
        return f"import {self.id} ({self.status})"


class LeadImportIssue(TenantModel):
    """A row the import could not take (error) or took with a change (warning)."""

    class Severity(models.TextChoices):
        ERROR = "error"
        WARNING = "warning"

    id = models.BigAutoField(primary_key=True)
    # Not indexed alone: the index in Meta starts with it.
    job = models.ForeignKey(
        LeadImport, on_delete=models.CASCADE, related_name="issues", db_index=False
    )
    severity = models.CharField(max_length=10, choices=Severity.choices)
    row = models.PositiveIntegerField()
    column = models.CharField(max_length=100, blank=True, default="")
    code = models.CharField(max_length=50)
    message = models.CharField(max_length=500)
    value = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["job", "severity", "row", "id"])]

    def __str__(self):
        return f"row {self.row}: {self.code}"
