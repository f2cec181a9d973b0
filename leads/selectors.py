"""Reads about leads that more than one caller needs.

Pipelines and stages are read here directly: ``leads`` places a lead in them, and the
pipelines app offers no selectors of its own for these lookups.
"""

import uuid

from django.db.models import OuterRef, Subquery, TextField, Value
from django.db.models.functions import Lower

from leads.models import Lead, LeadField
from orgs.models import Membership
from pipelines.models import Pipeline, Stage


def pipeline_default(organization_id) -> Pipeline | None:
    return Pipeline.objects.filter(organization_id=organization_id, is_default=True).first()


def pipeline_active(organization_id, pipeline_id: uuid.UUID) -> Pipeline | None:
    return Pipeline.objects.filter(
        organization_id=organization_id, pk=pipeline_id, archived_at__isnull=True
    ).first()


def stage_active(pipeline: Pipeline, stage_id: uuid.UUID) -> Stage | None:
    return Stage.objects.filter(pipeline=pipeline, pk=stage_id, archived_at__isnull=True).first()


def stage_first(pipeline: Pipeline) -> Stage | None:
    return (
        Stage.objects.filter(pipeline=pipeline, archived_at__isnull=True)
        .order_by("position")
        .first()
    )


def stage_name_of_lead() -> Subquery:
    """The name of a lead's stage, to annotate a queryset of leads with.

    A subquery in the select list, not a join: joined to a table under row-level
    security, the planner misjudges the join and sorts the whole org before the
    LIMIT. The subquery runs once per row returned, by primary key, and saves the
    second round trip a prefetch would take.
    """
    return Subquery(Stage.objects.filter(pk=OuterRef("stage_id")).order_by().values("name"))


def is_member(organization_id, user_id: uuid.UUID) -> bool:
    return Membership.objects.filter(organization_id=organization_id, user_id=user_id).exists()


def leads_with_email(organization_id, email: str):
    """Leads holding ``email``, compared as the unique index compares it.

    PostgreSQL folds ``lower(<constant>)`` while planning, so the condition is a plain
    column equality that the unique index (organization, email_ci) answers even under
    row-level security, and the lowering is the database's, as in the index.
    """
    lowered = Lower(Value(email, output_field=TextField()))
    return Lead.objects.filter(organization_id=organization_id, email_ci=lowered).exclude(
        email_ci=""
    )


def lead_with_email(organization_id, email: str, *, exclude_id=None) -> Lead | None:
    leads = leads_with_email(organization_id, email)
    if exclude_id is not None:
        leads = leads.exclude(pk=exclude_id)
    return leads.first()


def lead_with_external_id(organization_id, external_id: str, *, exclude_id=None) -> Lead | None:
    leads = Lead.objects.filter(organization_id=organization_id, external_id=external_id)
    if exclude_id is not None:
        leads = leads.exclude(pk=exclude_id)
    return leads.first()


def lead_in_organization(organization_id, lead_id) -> Lead | None:
    """The lead, or None for a malformed id, a missing lead or another org's lead."""
    try:
        lead_id = uuid.UUID(str(lead_id))
    except ValueError:
        return None
    return Lead.objects.filter(organization_id=organization_id, pk=lead_id).first()


def lead_field_definitions(organization_id) -> dict[str, LeadField]:
    return {field.key: field for field in LeadField.objects.filter(organization_id=organization_id)}
