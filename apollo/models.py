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
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization_id", "-created_at"])]

    def __str__(self):
        return f"{self.request_id} {self.method} {self.path} {self.status}"
