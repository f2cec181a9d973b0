from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins

from apollo.pagination import KeysetPagination
from apollo.viewsets import OrganizationViewSet
from orgs.models import Role
from webhooks.api.filters import EventFilterSet
from webhooks.api.serializers import EventSerializer
from webhooks.models import Event


@extend_schema_view(
    list=extend_schema(
        description="Every event of the organization, newest first, kept for 30 days."
    ),
    retrieve=extend_schema(description="One event, as webhooks deliver it."),
)
class EventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    queryset = Event.objects.all()
    serializer_class = EventSerializer
    pagination_class = KeysetPagination
    filterset_class = EventFilterSet
    not_found_code = "event_not_found"
    not_found_message = "No event with this id in this organization."
    read_role = Role.ADMIN
