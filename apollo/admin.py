import uuid
from http import HTTPStatus

from django.apps import apps
from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from apollo.models import RequestLog
from orgs.models import Organization, User

# The statuses the contract answers. A fixed list, because listing the distinct values
# of the column would scan the whole (large) table on every page of the changelist.
CONTRACT_STATUSES = (
    200,
    201,
    204,
    400,
    401,
    402,
    403,
    404,
    405,
    406,
    409,
    411,
    413,
    415,
    422,
    429,
    500,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records support reads and never edits: logs, timelines, events, import jobs."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [(str(code), f"{code} {HTTPStatus(code).phrase}") for code in CONTRACT_STATUSES]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(status=int(value)) if value.isdigit() else queryset.none()


class IdFilter(admin.SimpleListFilter):
    """Rows whose ``field`` holds the id the URL carries; a malformed id matches none."""

    field: str

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            return queryset.filter(**{self.field: uuid.UUID(self.value())})
        except ValueError:
            return queryset.none()


class OrganizationIdFilter(IdFilter):
    """One organization's rows, picked by its name; the URL carries its id."""

    title = "organization"
    parameter_name = field = "organization_id"

    def lookups(self, request, model_admin):
        return [
            (str(pk), name)
            for pk, name in Organization.objects.order_by("name").values_list("id", "name")
        ]


@admin.register(RequestLog)
class RequestLogAdmin(ReadOnlyAdmin):
    """What support reads when a customer quotes a request id. Nothing here is editable."""

    list_display = (
        "created_at",
        "request_id",
        "method",
        "path",
        "status",
        "error_code",
        "duration_ms",
        "organization",
        "user",
        "idempotency_key",
        "client_ip",
        "object",
    )
    list_filter = (StatusFilter, ("created_at", admin.DateFieldListFilter), OrganizationIdFilter)
    # An exact, case-sensitive match, which the unique index on request_id answers. The
    # admin's "=" prefix would not do: it means iexact, an UPPER() the index cannot serve.
    readonly_fields = ("object",)
    search_fields = ("request_id__exact",)
    search_help_text = "The exact request id, as in the X-Request-Id header (req_...)."
    # Counting every row of the table for "N total" would cost a full scan per page.
    show_full_result_count = False

    @admin.display(description="organization")
    def organization(self, row):
        return _link(Organization, row.organization_id)

    @admin.display(description="user")
    def user(self, row):
        return _link(User, row.user_id)

    @admin.display(description="object")
    def object(self, row):
        """The object the request was about, linked to its admin page when it has one."""
        if row.object_id is None:
            return "-"
        try:
            model = apps.get_model(row.object_type)
        except (LookupError, ValueError):
            return f"{row.object_type} {row.object_id}"
        return _link(model, row.object_id, label=f"{model._meta.verbose_name} {row.object_id}")


def _link(model, pk, label=None):
    """A link to the admin page of the object, without a query per row to name it."""
    if pk is None:
        return "-"
    try:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])
    except NoReverseMatch:
        return label or str(pk)
    return format_html('<a href="{}">{}</a>', url, label or pk)
