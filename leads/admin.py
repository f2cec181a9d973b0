"""The support admin of leads: read-mostly, across every org.

Leads change through ``leads.services`` (activities, events, the rules), so the admin
shows them and deletes through the service; it edits nothing in place. Pipeline, stage
and owner filters list the choices of one org, once the organization filter picks it:
listing every org's pipelines would be long and slow.
"""

import uuid

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from apollo.admin import IdFilter, OrganizationIdFilter, ReadOnlyAdmin
from leads import services
from leads.models import Activity, Lead, LeadField, LeadImport, LeadImportIssue
from orgs.models import User
from pipelines.models import Pipeline, Stage


class OrgChoiceFilter(IdFilter):
    """Choices from the org the organization filter selected; any id typed in the URL works."""

    field: str

    def org_id(self, request):
        try:
            return uuid.UUID(request.GET.get(OrganizationIdFilter.parameter_name, ""))
        except ValueError:
            return None

    def lookups(self, request, model_admin):
        org_id = self.org_id(request)
        return self.org_choices(org_id) if org_id else []

    def org_choices(self, org_id) -> list[tuple[str, str]]:
        raise NotImplementedError


class PipelineFilter(OrgChoiceFilter):
    title = "pipeline"
    parameter_name = field = "pipeline_id"

    def org_choices(self, org_id):
        pipelines = Pipeline.objects.filter(organization_id=org_id).order_by("name")
        return [(str(pk), name) for pk, name in pipelines.values_list("id", "name")]


class StageFilter(OrgChoiceFilter):
    title = "stage"
    parameter_name = field = "stage_id"

    def org_choices(self, org_id):
        stages = Stage.objects.filter(organization_id=org_id).order_by("pipeline__name", "position")
        rows = stages.values_list("id", "pipeline__name", "name")
        return [(str(pk), f"{pipeline}: {name}") for pk, pipeline, name in rows]


class OwnerFilter(OrgChoiceFilter):
    title = "owner"
    parameter_name = field = "owner_id"

    def org_choices(self, org_id):
        members = User.objects.filter(memberships__organization_id=org_id).order_by("email")
        return [(str(pk), email) for pk, email in members.values_list("id", "email")]


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = (
        "contact_name",
        "company_name",
        "email",
        "external_id",
        "organization",
        "pipeline",
        "stage",
        "owner",
        "created_at",
    )
    list_filter = (OrganizationIdFilter, PipelineFilter, StageFilter, OwnerFilter)
    list_select_related = ("organization", "pipeline", "stage", "owner")
    # Substring search on name and email scans (see the TODO in leads/api/filters.py);
    # support searches are rare, and the org filter narrows them.
    search_fields = ("contact_name", "email", "=external_id")
    search_help_text = "Part of the contact name or email, or the exact external id."
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    fields = (
        "id",
        "organization",
        "contact_name",
        "company_name",
        "email",
        "phone",
        "phone_extension",
        "website",
        "source",
        "pipeline",
        "stage",
        "owner",
        "tags",
        "value_cents",
        "external_id",
        "custom_fields",
        "timeline",
        "created_at",
        "updated_at",
        "last_activity_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        services.lead_delete(obj, actor=services.Actor.system())

    def delete_queryset(self, request, queryset):
        for lead in queryset:
            services.lead_delete(lead, actor=services.Actor.system())

    @admin.display(description="timeline")
    def timeline(self, lead):
        url = reverse("admin:leads_activity_changelist")
        return format_html('<a href="{}?lead_id={}">Activities</a>', url, lead.pk)


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    """The append-only timeline; reached from a lead, filtered by its id."""

    list_display = ("created_at", "type", "lead_id", "actor_type", "actor_id", "organization")
    list_filter = (OrganizationIdFilter, "type")
    list_select_related = ("organization",)
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    fields = ("id", "organization", "lead", "type", "actor_type", "actor_id", "data", "created_at")
    readonly_fields = fields


@admin.register(LeadImport)
class LeadImportAdmin(ReadOnlyAdmin):
    """Import jobs and their counters; the rows they left out are one click away."""

    list_display = (
        "created_at",
        "status",
        "file_name",
        "rows",
        "created",
        "updated",
        "skipped",
        "failed",
        "warnings",
        "organization",
    )
    # The status's choices, not the distinct values of the table.
    list_filter = (OrganizationIdFilter, "status")
    list_select_related = ("organization",)
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    fields = (
        "id",
        "organization",
        "status",
        "file_name",
        "file_format",
        "options",
        "rows",
        "created",
        "updated",
        "skipped",
        "failed",
        "warnings",
        "next_row",
        "cancel_requested",
        "error",
        "issues",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
    )
    readonly_fields = fields

    @admin.display(description="errors and warnings")
    def issues(self, job):
        url = reverse("admin:leads_leadimportissue_changelist")
        return format_html('<a href="{}?job={}">the rows of this import</a>', url, job.pk)


class ImportJobFilter(IdFilter):
    """One job's issues; reached from the job's page, whose link carries its id."""

    title = "import"
    parameter_name = "job"
    field = "job_id"

    def lookups(self, request, model_admin):
        return []

    def has_output(self):
        # Shown only while it filters: there is no list of every job to pick from.
        return self.value() is not None


@admin.register(LeadImportIssue)
class LeadImportIssueAdmin(ReadOnlyAdmin):
    list_display = ("row", "severity", "column", "code", "message", "value", "job_id")
    list_filter = (ImportJobFilter, "severity")
    ordering = ("job_id", "row", "id")
    show_full_result_count = False


@admin.register(LeadField)
class LeadFieldAdmin(ReadOnlyAdmin):
    list_display = ("key", "label", "type", "organization", "created_at")
    list_filter = (OrganizationIdFilter, "type")
    list_select_related = ("organization",)
    search_fields = ("=key",)
    fields = ("id", "organization", "key", "label", "type", "options", "created_at", "updated_at")
    readonly_fields = fields
