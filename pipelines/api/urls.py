from django.urls import path

from pipelines.api.views import PipelineViewSet

urlpatterns = [
    path(
        "pipelines",
        PipelineViewSet.as_view({"get": "list", "post": "create"}),
        name="pipelines",
    ),
    path(
        "pipelines/<str:pk>",
        PipelineViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="pipeline",
    ),
    path(
        "pipelines/<str:pk>/stages",
        PipelineViewSet.as_view({"post": "add_stage"}),
        name="pipeline-stages",
    ),
    # Before the stage route, which would otherwise take "reorder" for a stage id.
    path(
        "pipelines/<str:pk>/stages/reorder",
        PipelineViewSet.as_view({"post": "reorder_stages"}),
        name="pipeline-stages-reorder",
    ),
    path(
        "pipelines/<str:pk>/stages/<str:stage_id>",
        PipelineViewSet.as_view({"patch": "update_stage"}),
        name="pipeline-stage",
    ),
    path(
        "pipelines/<str:pk>/summary",
        PipelineViewSet.as_view({"get": "summary"}),
        name="pipeline-summary",
    ),
]
