import functools
import uuid

import django_filters
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from apollo.filters import ApolloFilterSet
from apollo.pagination import KeysetPagination
from apollo.serializers import validated
from apollo.viewsets import OrganizationViewSet
from leads.api import import_serializers as s
from leads.imports import lead_import_cancel, lead_import_create
from leads.models import LeadImport, LeadImportIssue
from leads.tasks import run_lead_import

IMPORT_ID = OpenApiParameter(
    "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The import's id."
)
NOT_FOUND_CODE = "lead_import_not_found"
NOT_FOUND_MESSAGE = "No lead import with this id in this organization."


class LeadImportFilterSet(ApolloFilterSet):
    status = django_filters.ChoiceFilter(
        choices=LeadImport.Status.choices, help_text="Only imports in this status."
    )

    class Meta:
        model = LeadImport
        fields = ["status"]


class LeadImportIssueFilterSet(ApolloFilterSet):
    severity = django_filters.ChoiceFilter(
        choices=LeadImportIssue.Severity.choices,
        help_text="Only errors (rows left out) or only warnings (values left out of "
        "written leads). Both when absent.",
    )

    class Meta:
        model = LeadImportIssue
        fields = ["severity"]


@extend_schema_view(
    list=extend_schema(description="The organization's lead imports, newest first."),
    retrieve=extend_schema(
        parameters=[IMPORT_ID],
        description="One import: its status, counters and timings. Poll it until the "
        "status is `completed`, `failed` or `cancelled`.",
    ),
)
class LeadImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    queryset = LeadImport.objects.all()
    serializer_class = s.LeadImportSerializer
    pagination_class = KeysetPagination
    parser_classes = [MultiPartParser]
    not_found_code = NOT_FOUND_CODE
    not_found_message = NOT_FOUND_MESSAGE
    operation_classes = {"create": "bulk"}
    error_codes = {"cancel": {409: ["lead_import_finished"]}}

    @property
    def filterset_class(self):
        return LeadImportFilterSet if self.action == "list" else None

    @extend_schema(
        request={"multipart/form-data": s.LeadImportCreateSerializer},
        responses={201: s.LeadImportSerializer},
        description="Upload a CSV or JSON lines file of leads; a worker imports it. The "
        "answer is the queued job. A row that cannot make a lead (no name, an invalid "
        "email, a broken record) is an error of the job and never stops the other rows; "
        "a value that cannot be used (a phone, an unknown stage or owner) is left out "
        "with a warning. A file over the size or row limit answers 413.",
    )
    def create(self, request):
        data = validated(s.LeadImportCreateSerializer, request.data)
        upload = data.pop("file")
        job = lead_import_create(
            organization=self.organization, user=request.user, upload=upload, options=data
        )
        transaction.on_commit(functools.partial(run_lead_import.delay, str(job.pk)))
        return Response(self.get_serializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        operation_id="lead_imports_cancel",
        parameters=[IMPORT_ID],
        responses={200: s.LeadImportSerializer},
        description="Stop an import. A queued one is cancelled at once; a running one "
        "stops after the batch it is writing (`cancel_requested` is true until then). "
        "The rows written before stay. Cancelling a cancelled import changes nothing; a "
        "completed or failed one answers 409 `lead_import_finished`.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk):
        job = lead_import_cancel(self.get_object())
        return Response(self.get_serializer(job).data)


@extend_schema_view(
    list=extend_schema(
        parameters=[IMPORT_ID],
        description="The rows an import left out (errors) and the values it left out of "
        "the leads it wrote (warnings), in the order of the file's rows. Row numbers "
        "count data rows from 1, the header not included.",
    )
)
class LeadImportIssueViewSet(mixins.ListModelMixin, OrganizationViewSet):
    queryset = LeadImportIssue.objects.all()
    serializer_class = s.LeadImportIssueSerializer
    pagination_class = KeysetPagination
    filterset_class = LeadImportIssueFilterSet
    default_ordering = "row"
    not_found_code = NOT_FOUND_CODE
    not_found_message = NOT_FOUND_MESSAGE

    def scope_queryset(self, queryset):
        return queryset.filter(job_id=self.kwargs["pk"])

    def list(self, request, pk):
        try:
            job_id = uuid.UUID(pk)
        except ValueError:
            raise self.not_found() from None
        if not LeadImport.objects.filter(organization=self.organization, pk=job_id).exists():
            raise self.not_found()
        return super().list(request)
