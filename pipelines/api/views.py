import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.response import Response

from apollo.errors import NotFound
from apollo.pagination import KeysetPagination
from apollo.serializers import validated
from apollo.viewsets import OrganizationViewSet
from leads.services import Actor
from orgs.models import Role
from pipelines import selectors, services
from pipelines.api import serializers as s
from pipelines.api.filters import PipelineFilterSet
from pipelines.models import Pipeline, Stage

PIPELINE_ID = OpenApiParameter(
    "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The pipeline's id."
)
STAGE_ID = OpenApiParameter(
    "stage_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The stage's id."
)


@extend_schema_view(
    list=extend_schema(
        description="The organization's pipelines, newest first, each with its active "
        "stages in order. Archived pipelines only with `archived=true`."
    ),
    retrieve=extend_schema(
        parameters=[PIPELINE_ID],
        description="One pipeline, archived or not, with its active stages in order.",
    ),
)
class PipelineViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    queryset = Pipeline.objects.all()
    serializer_class = s.PipelineSerializer
    pagination_class = KeysetPagination
    not_found_code = "pipeline_not_found"
    not_found_message = "No pipeline with this id in this organization."
    write_role = Role.ADMIN
    error_codes = {
        "create": {409: ["pipeline_name_taken"]},
        "partial_update": {
            409: [
                "pipeline_name_taken",
                "default_pipeline_required",
                "pipeline_is_default",
                "pipeline_archived",
            ]
        },
        "add_stage": {409: ["stage_name_taken"]},
        "update_stage": {
            404: ["stage_not_found"],
            409: ["stage_name_taken", "stage_not_empty", "last_open_stage"],
        },
        "reorder_stages": {400: ["invalid_stage_order"]},
    }
    # Actions that answer no pipeline, so need none of its stages loaded.
    stageless_actions = {"add_stage", "update_stage", "summary"}

    @property
    def filterset_class(self):
        # ``archived`` narrows the list only: a pipeline's own routes find it either way.
        return PipelineFilterSet if self.action == "list" else None

    def scope_queryset(self, queryset):
        if self.action in self.stageless_actions:
            return queryset
        return queryset.prefetch_related(selectors.active_stages())

    @extend_schema(
        request=s.PipelineCreateSerializer,
        responses={201: s.PipelineSerializer},
        description="A pipeline with its stages, in the order given. The org's first "
        "pipeline, or one sent with `is_default: true`, becomes the default.",
    )
    def create(self, request):
        data = validated(s.PipelineCreateSerializer, request.data)
        pipeline = services.pipeline_create(organization=self.organization, **data)
        return Response(self._pipeline_body(pipeline), status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[PIPELINE_ID],
        request=s.PipelineUpdateSerializer,
        responses={200: s.PipelineSerializer},
        description="Rename, make the default (the previous default stops being one), "
        "archive or restore. An org always keeps its one default pipeline.",
    )
    def partial_update(self, request, pk):
        pipeline = self.get_object()
        data = validated(s.PipelineUpdateSerializer, request.data)
        services.pipeline_update(pipeline, **data)
        return Response(self._pipeline_body(pipeline))

    @extend_schema(
        parameters=[PIPELINE_ID],
        request=s.StageCreateSerializer,
        responses={201: s.StageSerializer},
        description="A new stage, at `position` or at the end; the stages after it move "
        "one position down.",
    )
    def add_stage(self, request, pk):
        pipeline = self.get_object()
        data = validated(s.StageCreateSerializer, request.data)
        stage = services.stage_add(pipeline, **data)
        return Response(s.StageSerializer(stage).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[PIPELINE_ID, STAGE_ID],
        request=s.StageUpdateSerializer,
        responses={200: s.StageSerializer},
        description="Rename a stage, change its kind, archive or restore it. Archiving a "
        "stage that holds leads needs `target_stage_id`; a pipeline keeps at least one "
        "active `open` stage.",
    )
    def update_stage(self, request, pk, stage_id):
        stage = self._stage(self.get_object(), stage_id)
        data = validated(s.StageUpdateSerializer, request.data)
        stage = services.stage_update(stage, actor=Actor.user(request.user), **data)
        return Response(s.StageSerializer(stage).data)

    @extend_schema(
        parameters=[PIPELINE_ID],
        request=s.StageReorderSerializer,
        responses={200: s.PipelineSerializer},
        description="Put the active stages in a new order, all at once. `stage_ids` lists "
        "each active stage of the pipeline exactly once; anything else changes nothing "
        "and answers `invalid_stage_order`. Answers the pipeline.",
    )
    def reorder_stages(self, request, pk):
        pipeline = self.get_object()
        data = validated(s.StageReorderSerializer, request.data)
        services.stages_reorder(pipeline, data["stage_ids"])
        return Response(self._pipeline_body(pipeline))

    @extend_schema(
        parameters=[PIPELINE_ID],
        responses={200: s.PipelineSummarySerializer},
        description="Lead count and value of each active stage, in order, and their totals.",
    )
    def summary(self, request, pk):
        pipeline = self.get_object()
        stages = selectors.pipeline_summary(pipeline)
        body = {
            "pipeline_id": pipeline.pk,
            "lead_count": sum(stage.lead_count for stage in stages),
            "value_cents": sum(stage.value_cents for stage in stages),
            "stages": stages,
        }
        return Response(s.PipelineSummarySerializer(body).data)

    def _pipeline_body(self, pipeline: Pipeline) -> dict:
        """The pipeline as this request left it, read again with its active stages."""
        return self.get_serializer(self.get_queryset().get(pk=pipeline.pk)).data

    def _stage(self, pipeline: Pipeline, stage_id: str) -> Stage:
        """A stage of this pipeline, archived or not; any other id is 404."""
        missing = NotFound("No stage with this id in this pipeline.", code="stage_not_found")
        try:
            uuid.UUID(stage_id)
        except ValueError:
            raise missing from None
        stage = Stage.objects.filter(pipeline=pipeline, pk=stage_id).first()
        if stage is None:
            raise missing
        return stage
