"""Strict query parameters: a list never silently ignores what it was asked.

``StrictFilterBackend`` runs the view's django-filter FilterSet and answers 400
``validation_error`` naming each bad parameter, for an invalid value and for a
parameter the endpoint does not know. Timestamps read any offset (a ``+`` that arrived
as a space included) and naive ones as UTC.
"""

import datetime
import re

import django_filters
from django import forms
from django.db import models
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend

from apollo.errors import ValidationFailed

PAGINATION_PARAMS = {"cursor", "limit"}

# "2026-06-26T17:45:13 02:00": the "+" of the offset was decoded from an unencoded URL.
_SPACE_FOR_PLUS = re.compile(r"^(.*T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


def parse_timestamp(raw: str) -> datetime.datetime:
    text = raw.strip()
    text = _SPACE_FOR_PLUS.sub(r"\1+\2", text)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    value = datetime.datetime.fromisoformat(text)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=datetime.UTC)
    try:
        return value.astimezone(datetime.UTC)
    except OverflowError:
        # Year 9999 minus an offset, or year 1 plus one, has no UTC time.
        raise ValueError(f"{raw!r} is out of the range of UTC times") from None


class UtcDateTimeField(forms.DateTimeField):
    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime.datetime):
            return value
        try:
            return parse_timestamp(str(value))
        except ValueError:
            raise forms.ValidationError(
                "Enter an ISO 8601 timestamp, such as 2026-06-26T17:45:13Z.", code="invalid"
            ) from None


class UtcDateTimeFilter(django_filters.DateTimeFilter):
    field_class = UtcDateTimeField


class ApolloFilterSet(django_filters.FilterSet):
    """Base FilterSet: model timestamp fields parse as the contract says.

    A filter absent from the query does nothing. A FilterSet that narrows the list
    when its filter is absent (``PipelineFilterSet`` hides archived pipelines) does it
    in ``filter_queryset``, and so always runs.
    """

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.DateTimeField: {"filter_class": UtcDateTimeFilter},
    }

    @classmethod
    def filters_nothing(cls, params) -> bool:
        """True when ``params`` name no filter, none is required and there is no default.

        Then the queryset comes back as it went in, and building the FilterSet (a form
        class, its fields, their querysets, deep copies of each) only costs time: more
        than a page's query did.
        """
        if cls.filter_queryset is not django_filters.FilterSet.filter_queryset:
            return False
        return not any(
            name in params or filter_.extra.get("required")
            for name, filter_ in cls.base_filters.items()
        )


UNKNOWN_MESSAGE = "This endpoint has no such query parameter."
# An empty value or a second one would otherwise be read as no filter, or as the last.
BLANK_MESSAGE = "Give a value, or leave the parameter out."
REPEATED_MESSAGE = "Give this parameter once."


def _detail(field: str, code: str, message: str) -> dict:
    return {"field": field, "code": code, "message": message}


def _repeatable(filterset_class, name: str) -> bool:
    """Whether a filter takes several values (``tag=a&tag=b``)."""
    filter_ = filterset_class.base_filters.get(name) if filterset_class else None
    widget = getattr(getattr(filter_, "field_class", None), "widget", None)
    return isinstance(widget, type) and issubclass(widget, forms.MultipleHiddenInput)


def _details(errors) -> list[dict]:
    return [
        {
            "field": field,
            "code": error.code or "invalid",
            "message": error.message % (error.params or {}),
        }
        for field, field_errors in errors.as_data().items()
        for error in field_errors
    ]


class StrictFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        self._refuse_unknown(request, view, filterset_class)
        if filterset_class is None or (
            issubclass(filterset_class, ApolloFilterSet)
            and filterset_class.filters_nothing(request.query_params)
        ):
            return queryset
        filterset = self.get_filterset(request, queryset, view)
        if not filterset.is_valid():
            raise ValidationFailed(details=_details(filterset.errors))
        return filterset.qs

    def _refuse_unknown(self, request, view, filterset_class):
        known = set(PAGINATION_PARAMS)
        if filterset_class is not None:
            known |= set(filterset_class.base_filters)
        if getattr(view, "ordering_fields", None):
            known.add("order_by")
        details = []
        for name in sorted(request.query_params):
            values = request.query_params.getlist(name)
            if name not in known:
                details.append(_detail(name, "unknown_parameter", UNKNOWN_MESSAGE))
            elif "" in values:
                details.append(_detail(name, "blank", BLANK_MESSAGE))
            elif len(values) > 1 and not _repeatable(filterset_class, name):
                details.append(_detail(name, "repeated", REPEATED_MESSAGE))
        if details:
            raise ValidationFailed(details=details)
