"""Reads of pipelines and stages that take more than a filter."""

from django.db.models import BigIntegerField, Count, Prefetch, Sum, Value
from django.db.models.functions import Coalesce

from pipelines.models import Stage


def active_stages() -> Prefetch:
    """Prefetch a pipeline's active stages, in order, into ``pipeline.active_stages``."""
    return Prefetch(
        "stages",
        queryset=Stage.objects.filter(archived_at__isnull=True).order_by("position"),
        to_attr="active_stages",
    )


def pipeline_summary(pipeline) -> list[Stage]:
    """The active stages of ``pipeline`` in order, each with ``lead_count`` and ``value_cents``.

    One query whatever the number of stages: a LEFT JOIN on leads grouped by stage,
    which the leads' (organization, stage, ...) index serves.
    """
    return list(
        Stage.objects.filter(pipeline=pipeline, archived_at__isnull=True)
        .annotate(
            lead_count=Count("leads"),
            value_cents=Coalesce(
                Sum("leads__value_cents"), Value(0), output_field=BigIntegerField()
            ),
        )
        .order_by("position")
    )
