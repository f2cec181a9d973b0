"""Leads, definitions and pipelines made as the application makes them.

Tenant rows come from the services, run as the org (``org_scope``): the test database
enforces row-level security like production does.
"""

import pytest

from apollo.tenancy import org_scope, privileged
from leads import services
from leads.models import Activity, Lead, LeadField
from pipelines import services as pipeline_services
from pipelines.models import Pipeline, Stage
from webhooks.models import Event

LEAD_NOT_FOUND = "No lead with this id in this organization."


def iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def error(response, code: str, message: str, details=None) -> dict:
    body = {"code": code, "message": message, "request_id": response["X-Request-Id"]}
    if details is not None:
        body["details"] = details
    return {"error": body}


def invalid(response, *details) -> dict:
    """The 400 envelope with ``details`` given as (field, code, message) triples."""
    return error(
        response,
        "validation_error",
        "The request is not valid.",
        [{"field": field, "code": code, "message": message} for field, code, message in details],
    )


def make_lead(org, actor=None, **fields) -> Lead:
    fields.setdefault("contact_name", "Ada Lovelace")
    with org_scope(org.id):
        return services.lead_create(
            organization=org, actor=actor or services.Actor.system(), **fields
        )


def update_lead(lead, actor=None, **changes) -> Lead:
    with org_scope(lead.organization_id):
        return services.lead_update(lead, actor=actor or services.Actor.system(), **changes)


def make_field(org, key, type="text", options=None, label=None) -> LeadField:
    with org_scope(org.id):
        return services.lead_field_create(
            organization=org, key=key, label=label or key.title(), type=type, options=options
        )


def reload(lead) -> Lead:
    with org_scope(lead.organization_id):
        return Lead.objects.select_related("stage").get(pk=lead.pk)


def timeline(lead) -> list[Activity]:
    """The lead's activities, oldest first."""
    with org_scope(lead.organization_id):
        return list(Activity.objects.filter(lead_id=lead.pk).order_by("created_at", "type"))


def events(org, type=None) -> list[Event]:
    with privileged("a test reads the events of an org"):
        found = Event.objects.filter(organization=org).order_by("created_at", "id")
        return list(found.filter(type=type) if type else found)


def lead_body(lead: Lead) -> dict:
    """The whole representation the API gives of ``lead``."""
    return {
        "id": str(lead.id),
        "contact_name": lead.contact_name,
        "company_name": lead.company_name,
        "email": lead.email,
        "phone": lead.phone,
        "phone_extension": lead.phone_extension,
        "website": lead.website,
        "source": lead.source,
        "pipeline_id": str(lead.pipeline_id),
        "stage_id": str(lead.stage_id),
        "stage": lead.stage.name,
        "owner_id": str(lead.owner_id) if lead.owner_id else None,
        "tags": lead.tags,
        "value_cents": lead.value_cents,
        "external_id": lead.external_id,
        "custom_fields": lead.custom_fields,
        "created_at": iso(lead.created_at),
        "updated_at": iso(lead.updated_at),
        "last_activity_at": iso(lead.last_activity_at),
    }


def activity_body(activity: Activity) -> dict:
    return {
        "id": str(activity.id),
        "lead_id": str(activity.lead_id),
        "type": activity.type,
        "actor": {
            "type": activity.actor_type,
            "id": str(activity.actor_id) if activity.actor_id else None,
        },
        "data": activity.data,
        "created_at": iso(activity.created_at),
    }


@pytest.fixture
def pipeline(org) -> Pipeline:
    with org_scope(org.id):
        return Pipeline.objects.get(organization=org, is_default=True)


@pytest.fixture
def stages(pipeline) -> list[Stage]:
    """The default pipeline's active stages, in order: New lead, Qualified, ..."""
    with org_scope(pipeline.organization_id):
        return list(pipeline.stages.filter(archived_at__isnull=True).order_by("position"))


@pytest.fixture
def other_pipeline(org) -> Pipeline:
    with org_scope(org.id):
        return pipeline_services.pipeline_create(
            organization=org,
            name="Partners",
            stages=[{"name": "Intro", "kind": "open"}, {"name": "Signed", "kind": "won"}],
        )


@pytest.fixture
def other_stages(other_pipeline) -> list[Stage]:
    with org_scope(other_pipeline.organization_id):
        return list(other_pipeline.stages.order_by("position"))


@pytest.fixture
def foreign_stage(other_org) -> Stage:
    """The first stage of another org's default pipeline."""
    with org_scope(other_org.id):
        return Stage.objects.filter(pipeline__is_default=True).order_by("position").first()
