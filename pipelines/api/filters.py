import django_filters
from django import forms

from apollo.filters import ApolloFilterSet
from pipelines.models import Pipeline


class StrictBooleanField(forms.NullBooleanField):
    """``true``/``false`` (or ``1``/``0``); anything else is an error, not "unset"."""

    # Django's select widget reads an unknown value as None: take the raw text instead.
    widget = forms.TextInput

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError("Must be true or false.", code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class PipelineFilterSet(ApolloFilterSet):
    archived = StrictBooleanFilter(
        method="filter_archived",
        help_text="`true` lists the archived pipelines instead of the active ones "
        "(default `false`).",
    )

    class Meta:
        model = Pipeline
        fields = ["archived"]

    def filter_queryset(self, queryset):
        if self.form.cleaned_data.get("archived") is None:
            queryset = queryset.filter(archived_at__isnull=True)
        return super().filter_queryset(queryset)

    def filter_archived(self, queryset, name, value):
        return queryset.filter(archived_at__isnull=not value)
