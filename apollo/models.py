import uuid

from django.db import models


class TenantModel(models.Model):
    """A row that belongs to one organization; its table has row-level security."""

    organization = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, related_name="+", editable=False
    )

    class Meta:
        abstract = True


class RequestLog(models.Model):
    """One row per ``/v1`` request, for support staff who hold a request id."""

    request_id = models.CharField(max_length=40, unique=True)
    organization_id = models.UUIDField(null=True, blank=True, db_index=True)
    user_id = models.UUIDField(null=True, blank=True)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    route = models.CharField(max_length=200, blank=True)
    status = models.PositiveSmallIntegerField(db_index=True)
    error_code = models.CharField(max_length=64, blank=True)
    duration_ms = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=255, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    # The object the request read, changed or made: its model label and id.
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization_id", "-created_at"])]

    def __str__(self):
        return f"{self.request_id} {self.method} {self.path} {self.status}"


class IdempotencyRecord(models.Model):
    """A POST seen with an ``Idempotency-Key``, and the answer to replay for it.

    The row is written in the same transaction as the request's effects: it exists
    exactly when they were committed. Requests outside any org are scoped to the user.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "orgs.Organization", on_delete=models.CASCADE, null=True, related_name="+"
    )
    user = models.ForeignKey("orgs.User", on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    # The answer's JSON as rendered, empty for an answer without a body (see
    # ``apollo.idempotency.complete``).
    response_body = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user", "method", "path", "key"],
                name="idempotency_scope_unique",
                nulls_distinct=False,
            )
        ]

    def __str__(self):
        return f"{self.method} {self.path} {self.key}"


class RateLimitOverride(TenantModel):
    """Support's per-org ceiling for one operation class, over the settings' default."""

    class OperationClass(models.TextChoices):
        READ = "read"
        WRITE = "write"
        BILLABLE = "billable"
        BULK = "bulk"

    operation_class = models.CharField(max_length=10, choices=OperationClass.choices)
    requests = models.PositiveIntegerField(help_text="Requests allowed per window.")
    window_seconds = models.PositiveIntegerField(default=60)
    note = models.CharField(max_length=200, blank=True, help_text="Why, for the next person.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "operation_class"], name="rate_limit_override_unique"
            )
        ]

    def __str__(self):
        return f"{self.operation_class}: {self.requests}/{self.window_seconds}s"

    @property
    def rate(self) -> str:
        return f"{self.requests}/{self.window_seconds}s"
