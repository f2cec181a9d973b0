import django_filters

from apollo.filters import ApolloFilterSet
from webhooks.models import Event
from webhooks.services import EVENT_TYPES


class EventFilterSet(ApolloFilterSet):
    type = django_filters.ChoiceFilter(choices=[(name, name) for name in EVENT_TYPES])

    class Meta:
        model = Event
        # ApolloFilterSet reads these as UTC timestamps of any offset.
        fields = {"created_at": ["gte", "lt"]}
