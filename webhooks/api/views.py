from rest_framework import mixins

from apollo.pagination import KeysetPagination
from apollo.viewsets import OrganizationViewSet
from orgs.models import Role
from webhooks.api.filters import EventFilterSet
from webhooks.api.serializers import EventSerializer
from webhooks.models import Event


class EventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    """Every event of the org, newest first, for the retention period."""

    queryset = Event.objects.all()
    serializer_class = EventSerializer
    pagination_class = KeysetPagination
    filterset_class = EventFilterSet
    not_found_code = "event_not_found"
    not_found_message = "No event with this id in this organization."
    read_role = Role.ADMIN
