"""Helpers of the pipeline tests: rows made as the application makes them, bodies as
the contract states them."""

import pytest

from apollo.tenancy import org_scope
from leads.models import Lead
from pipelines import services
from pipelines.models import Pipeline, Stage

DEFAULT_STAGES = [
    ("New lead", "open"),
    ("Qualified", "open"),
    ("In conversation", "open"),
    ("Proposal sent", "open"),
    ("Negotiation", "open"),
    ("Won", "won"),
    ("Lost", "lost"),
]
PIPELINE_NOT_FOUND = "No pipeline with this id in this organization."
STAGE_NOT_FOUND = "No stage with this id in this pipeline."
ROLE_MESSAGE = "Your role does not allow this action."
INVALID_ORDER = "stage_ids must list each active stage of this pipeline exactly once."


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def error(response, code: str, message: str, details=None) -> dict:
    body = {"code": code, "message": message, "request_id": response["X-Request-Id"]}
    if details is not None:
        body["details"] = details
    return {"error": body}


def default_pipeline(organization) -> Pipeline:
    with org_scope(organization.id):
        return Pipeline.objects.get(organization=organization, is_default=True)


def make_pipeline(organization, name="Partners", stages=None, **kwargs) -> Pipeline:
    stages = stages or [("Lead", "open"), ("Signed", "won"), ("Dropped", "lost")]
    with org_scope(organization.id):
        return services.pipeline_create(
            organization=organization,
            name=name,
            stages=[{"name": n, "kind": k} for n, k in stages],
            **kwargs,
        )


def active_stages(pipeline) -> list[Stage]:
    with org_scope(pipeline.organization_id):
        return list(
            Stage.objects.filter(pipeline=pipeline, archived_at__isnull=True).order_by("position")
        )


def stage_named(pipeline, name) -> Stage:
    with org_scope(pipeline.organization_id):
        return Stage.objects.get(pipeline=pipeline, name=name)


def layout(pipeline) -> list[tuple[str, int]]:
    """The active stages as (name, position), in order."""
    return [(stage.name, stage.position) for stage in active_stages(pipeline)]


def make_leads(stage, values) -> list[Lead]:
    with org_scope(stage.organization_id):
        return [
            Lead.objects.create(
                organization_id=stage.organization_id,
                pipeline_id=stage.pipeline_id,
                stage=stage,
                contact_name=f"Contact {index}",
                value_cents=value,
            )
            for index, value in enumerate(values)
        ]


def stage_body(stage: Stage) -> dict:
    with org_scope(stage.organization_id):
        stage.refresh_from_db()
    return {
        "id": str(stage.id),
        "name": stage.name,
        "kind": stage.kind,
        "position": stage.position,
        "archived": stage.archived_at is not None,
        "created_at": iso(stage.created_at),
        "updated_at": iso(stage.updated_at),
    }


def pipeline_body(pipeline: Pipeline) -> dict:
    """The whole answer for ``pipeline`` as the database holds it now."""
    with org_scope(pipeline.organization_id):
        pipeline.refresh_from_db()
    return {
        "id": str(pipeline.id),
        "name": pipeline.name,
        "is_default": pipeline.is_default,
        "archived": pipeline.archived_at is not None,
        "created_at": iso(pipeline.created_at),
        "updated_at": iso(pipeline.updated_at),
        "stages": [stage_body(stage) for stage in active_stages(pipeline)],
    }


@pytest.fixture
def sales(org) -> Pipeline:
    """The default pipeline ``org`` got when it was created."""
    return default_pipeline(org)


@pytest.fixture
def as_admin(client_for, admin):
    return client_for(admin)
