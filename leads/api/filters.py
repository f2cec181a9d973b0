import uuid

import django_filters
from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.db.models import Q, TextField, Value
from django.db.models.functions import Lower
from drf_spectacular.utils import extend_schema_field

from apollo.errors import ValidationFailed
from apollo.filters import ApolloFilterSet, UtcDateTimeFilter
from leads.models import Lead
from leads.services import MAX_TAG_LENGTH, tag_normalize
from orgs.models import User
from pipelines.models import Pipeline, Stage


def _pipelines(request):
    return Pipeline.objects.filter(organization=request.organization)


def _stages(request):
    return Stage.objects.filter(organization=request.organization)


def _members(request):
    return User.objects.filter(memberships__organization=request.organization)


class TagsField(forms.Field):
    """Every ``tag`` of the query string, normalized as stored tags are."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        for tag in value or []:
            ProhibitNullCharactersValidator()(tag)
        tags = list(dict.fromkeys(t for t in map(tag_normalize, value or []) if t))
        if any(len(tag) > MAX_TAG_LENGTH for tag in tags):
            raise forms.ValidationError(
                f"A tag has at most {MAX_TAG_LENGTH} characters.", code="max_length"
            )
        return tags


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class TagsFilter(django_filters.Filter):
    field_class = TagsField

    def filter(self, queryset, value):
        # @> on the array: every tag given must be on the lead.
        return queryset.filter(tags__contains=value) if value else queryset


@extend_schema_field({"type": "string", "format": "email"})
class EmailFilter(django_filters.CharFilter):
    field_class = forms.EmailField


def _unknown_id(what: str) -> dict:
    return {"invalid_choice": f"No {what} with this id in this organization."}


class IdField(forms.ModelChoiceField):
    """An id of a row the org can see; a malformed one says so, as in a request body."""

    def to_python(self, value):
        if value not in self.empty_values:
            try:
                uuid.UUID(str(value))
            except ValueError:
                raise forms.ValidationError("Must be a valid UUID.", code="invalid") from None
        return super().to_python(value)


class IdFilter(django_filters.ModelChoiceFilter):
    field_class = IdField


class LeadFilterSet(ApolloFilterSet):
    pipeline_id = IdFilter(
        field_name="pipeline",
        queryset=_pipelines,
        error_messages=_unknown_id("pipeline"),
        help_text="Only leads of this pipeline.",
    )
    stage_id = IdFilter(
        field_name="stage",
        queryset=_stages,
        error_messages=_unknown_id("stage"),
        help_text="Only leads in this stage.",
    )
    stage = django_filters.CharFilter(
        method="filter_stage",
        max_length=100,
        help_text="Only leads in a stage of this name (case-insensitive), in any pipeline.",
    )
    owner_id = IdFilter(
        field_name="owner",
        queryset=_members,
        error_messages=_unknown_id("member"),
        help_text="Only leads owned by this member.",
    )
    tag = TagsFilter(help_text="Repeatable: only leads that carry every tag given.")
    email = EmailFilter(method="filter_email", help_text="The lead with this email, any case.")
    q = django_filters.CharFilter(
        method="filter_q",
        max_length=200,
        help_text="Substring of the contact name, company name or email, any case.",
    )
    created_at__gte = UtcDateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        help_text="Only leads created at or after this ISO 8601 timestamp (naive is UTC).",
    )
    created_at__lt = UtcDateTimeFilter(
        field_name="created_at",
        lookup_expr="lt",
        help_text="Only leads created before this ISO 8601 timestamp (naive is UTC).",
    )
    updated_at__gte = UtcDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Only leads updated at or after this ISO 8601 timestamp (naive is UTC).",
    )
    updated_at__lt = UtcDateTimeFilter(
        field_name="updated_at",
        lookup_expr="lt",
        help_text="Only leads updated before this ISO 8601 timestamp (naive is UTC).",
    )

    class Meta:
        model = Lead
        fields: list[str] = []

    def filter_stage(self, queryset, name, value: str):
        stages = _stages(self.request).filter(name__iexact=value)
        # A name no stage has is a typo, not a filter that matches nothing.
        if not stages.exists():
            raise ValidationFailed.for_field(
                "stage", "No stage of this organization has this name.", code="invalid_choice"
            )
        return queryset.filter(stage__in=stages)

    def filter_email(self, queryset, name, value: str):
        # email_ci = lower(<constant>): the unique index on (organization, email_ci).
        return queryset.filter(email_ci=Lower(Value(value, output_field=TextField())))

    def filter_q(self, queryset, name, value: str):
        # TODO(apollo): row-level security keeps non-leakproof operators (LIKE here, @>
        # for tags) out of index conditions, so q and tag filter the org's leads as they
        # are read from the organization index; fine for thousands of leads per org,
        # slow for millions. Marking the operators LEAKPROOF takes a superuser.
        return queryset.filter(
            Q(contact_name__icontains=value)
            | Q(company_name__icontains=value)
            | Q(email__icontains=value)
        )
