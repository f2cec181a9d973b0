import django_filters

from apollo.filters import ApolloFilterSet, UtcDateTimeFilter
from webhooks.models import Event
from webhooks.services import EVENT_TYPES


class EventFilterSet(ApolloFilterSet):
    type = django_filters.ChoiceFilter(
        choices=[(name, name) for name in EVENT_TYPES], help_text="Only events of this type."
    )
    created_at__gte = UtcDateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        help_text="Only events created at or after this ISO 8601 timestamp (naive is UTC).",
    )
    created_at__lt = UtcDateTimeFilter(
        field_name="created_at",
        lookup_expr="lt",
        help_text="Only events created before this ISO 8601 timestamp (naive is UTC).",
    )

    class Meta:
        model = Event
        fields = ["type", "created_at__gte", "created_at__lt"]
