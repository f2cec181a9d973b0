"""The support admin of pipelines.

Stages change only through ``pipelines.services`` (dense positions, the last open
stage, leads moving off an archived stage), so the admin shows them and lets support
rename a pipeline, through the same service and its name rule.
"""

from django import forms
from django.contrib import admin

from pipelines import services
from pipelines.models import Pipeline, Stage


class StageInline(admin.TabularInline):
    model = Stage
    fields = ("position", "name", "kind", "archived_at", "created_at", "id")
    readonly_fields = fields
    ordering = ("archived_at", "position", "created_at")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PipelineForm(forms.ModelForm):
    class Meta:
        model = Pipeline
        fields = ("name",)

    def clean_name(self):
        # The organization is not a form field, so the model's own constraint check
        # skips the name rule; check it here rather than fail on save.
        name = self.cleaned_data["name"]
        taken = (
            Pipeline.objects.filter(
                organization_id=self.instance.organization_id,
                name__iexact=name,
                archived_at__isnull=True,
            )
            .exclude(pk=self.instance.pk)
            .exists()
        )
        if taken and self.instance.archived_at is None:
            raise forms.ValidationError("An active pipeline of this org already has this name.")
        return name


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    form = PipelineForm
    list_display = ("name", "organization", "is_default", "archived_at", "created_at", "id")
    list_filter = ("is_default", ("archived_at", admin.EmptyFieldListFilter))
    list_select_related = ("organization",)
    search_fields = ("name", "=id", "=organization__id")
    fields = ("id", "organization", "name", "is_default", "archived_at", "created_at", "updated_at")
    readonly_fields = (
        "id",
        "organization",
        "is_default",
        "archived_at",
        "created_at",
        "updated_at",
    )
    inlines = [StageInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if "name" in form.changed_data:
            services.pipeline_update(obj, name=form.cleaned_data["name"])
