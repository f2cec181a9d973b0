from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.response import Response

from apollo.pagination import KeysetPagination
from apollo.serializers import validated
from apollo.viewsets import OrganizationViewSet
from leads import selectors, services
from leads.api.filters import LeadFilterSet
from leads.api.serializers import (
    LEAD_ROW_FIELDS,
    ActivityCreateSerializer,
    ActivitySerializer,
    LeadFieldSerializer,
    LeadSerializer,
)
from leads.models import Activity, Lead, LeadField
from orgs.models import Role

ORDER_BY_KEYS = ["created_at", "updated_at", "value_cents"]

ORDER_BY_PARAMETER = OpenApiParameter(
    name="order_by",
    type=str,
    location=OpenApiParameter.QUERY,
    required=False,
    enum=[f"{sign}{key}" for key in ORDER_BY_KEYS for sign in ("", "-")],
    description="The order of the list, `-` for descending; `-created_at` by default.",
)

LEAD_ID_PARAMETER = OpenApiParameter(
    name="lead_id", type=OpenApiTypes.UUID, location=OpenApiParameter.PATH
)


class LeadWriteMixin:
    """What the user of the request is, to the services: the actor of every change."""

    @property
    def actor(self) -> services.Actor:
        return services.Actor.user(self.request.user)


@extend_schema_view(
    list=extend_schema(
        description="The leads of the organization, newest first unless `order_by` says "
        "otherwise. Every filter is checked: an unknown value answers 400.",
        parameters=[ORDER_BY_PARAMETER],
    ),
    retrieve=extend_schema(description="One lead."),
    create=extend_schema(
        description="Create a lead. Without pipeline_id it goes to the organization's "
        "default pipeline, and without stage_id to the pipeline's first stage. An email "
        "or external_id another lead holds answers 409 `lead_duplicate`, with that lead's "
        "id in `details[].lead_id`.",
        responses={201: LeadSerializer},
    ),
    partial_update=extend_schema(
        description="Change some fields of a lead. Each change appends an activity "
        "(stage_changed, pipeline_moved, assignment_changed, field_updated) with the "
        "before and after values."
    ),
    destroy=extend_schema(description="Delete a lead and its timeline."),
)
class LeadViewSet(
    LeadWriteMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet
):
    # The stage's name comes with each lead. The subquery is resolved once, here:
    # resolving it per request cost a list nearly a tenth of its time.
    queryset = Lead.objects.annotate(stage_name=selectors.stage_name_of_lead())
    # A list reads named rows rather than model instances (see LEAD_ROW_FIELDS), from a
    # queryset also built once.
    list_rows = queryset.values_list(*LEAD_ROW_FIELDS, named=True)
    serializer_class = LeadSerializer
    pagination_class = KeysetPagination
    filterset_class = LeadFilterSet
    ordering_fields = ORDER_BY_KEYS
    not_found_code = "lead_not_found"
    not_found_message = "No lead with this id in this organization."
    error_codes = {
        "create": {409: ["lead_duplicate"]},
        "partial_update": {409: ["lead_duplicate"]},
    }

    def list(self, request):
        # get_queryset() starts from self.queryset and scopes it to the org, as always.
        self.queryset = self.list_rows
        return super().list(request)

    def create(self, request):
        data = validated(LeadSerializer, request.data)
        lead = services.lead_create(organization=self.organization, actor=self.actor, **data)
        return Response(LeadSerializer(lead).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk):
        lead = self.get_object()
        data = validated(LeadSerializer, request.data, partial=True)
        lead = services.lead_update(lead, actor=self.actor, **data)
        return Response(LeadSerializer(lead).data)

    def destroy(self, request, pk):
        services.lead_delete(self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(
        description="The lead's timeline, newest first.", parameters=[LEAD_ID_PARAMETER]
    ),
    create=extend_schema(
        description="Log a note, a call or a meeting on the lead's timeline. The timeline "
        "is append-only: entries are neither changed nor deleted.",
        parameters=[LEAD_ID_PARAMETER],
        request=ActivityCreateSerializer,
        responses={201: ActivitySerializer},
    ),
)
class ActivityViewSet(LeadWriteMixin, mixins.ListModelMixin, OrganizationViewSet):
    queryset = Activity.objects.all()
    serializer_class = ActivitySerializer
    pagination_class = KeysetPagination
    # The only id in these paths is the lead's.
    not_found_code = "lead_not_found"
    not_found_message = "No lead with this id in this organization."

    lead: Lead | None = None

    def scope_queryset(self, queryset):
        return queryset.filter(lead=self.lead) if self.lead is not None else queryset.none()

    def list(self, request, lead_id):
        self.lead = self._lead(lead_id)
        return super().list(request)

    def create(self, request, lead_id):
        lead = self._lead(lead_id)
        data = validated(ActivityCreateSerializer, request.data)
        activity = services.activity_log(lead, actor=self.actor, **data)
        return Response(ActivitySerializer(activity).data, status=status.HTTP_201_CREATED)

    def _lead(self, lead_id) -> Lead:
        lead = selectors.lead_in_organization(self.organization.id, lead_id)
        if lead is None:
            raise self.not_found()
        return lead


@extend_schema_view(
    list=extend_schema(description="The organization's custom field definitions."),
    retrieve=extend_schema(description="One custom field definition."),
    create=extend_schema(
        description="Define a custom field. select and multi_select fields need options.",
        responses={201: LeadFieldSerializer},
    ),
    partial_update=extend_schema(
        description="Change a definition's label or options; its key and type are fixed."
    ),
    destroy=extend_schema(
        description="Delete a definition; every lead loses its value for the field."
    ),
)
class LeadFieldViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    queryset = LeadField.objects.all()
    serializer_class = LeadFieldSerializer
    pagination_class = KeysetPagination
    not_found_code = "lead_field_not_found"
    not_found_message = "No custom field with this id in this organization."
    write_role = Role.ADMIN
    error_codes = {"create": {409: ["lead_field_key_taken"]}}

    def create(self, request):
        data = validated(LeadFieldSerializer, request.data)
        field = services.lead_field_create(organization=self.organization, **data)
        return Response(LeadFieldSerializer(field).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk):
        field = self.get_object()
        data = validated(LeadFieldSerializer, request.data, partial=True)
        field = services.lead_field_update(field, **data)
        return Response(LeadFieldSerializer(field).data)

    def destroy(self, request, pk):
        services.lead_field_delete(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
