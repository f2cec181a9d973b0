import uuid

from django.contrib import admin

from apollo.admin import OrganizationIdFilter, ReadOnlyAdmin
from webhooks.models import Event
from webhooks.services import EVENT_TYPES


class EventTypeFilter(admin.SimpleListFilter):
    """The known types, where the default filter would scan the table for distinct ones."""

    title = "type"
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return [(name, name) for name in EVENT_TYPES]

    def queryset(self, request, queryset):
        return queryset.filter(type=self.value()) if self.value() else queryset


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """Read-only: an event is a record of what happened, and webhooks may have sent it."""

    list_display = ("id", "organization", "type", "created_at")
    list_filter = (OrganizationIdFilter, EventTypeFilter, ("created_at", admin.DateFieldListFilter))
    list_select_related = ("organization",)
    # get_search_results() below makes it an exact match on the primary key.
    search_fields = ("id",)
    search_help_text = "An event id, exactly."
    ordering = ("-created_at", "-id")
    # Counting every event of every org on each page view is the slow part of a big table.
    show_full_result_count = False
    fields = ("id", "organization", "type", "created_at", "data")
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            event_id = uuid.UUID(term)
        except ValueError:
            return queryset.none(), False
        return queryset.filter(pk=event_id), False
