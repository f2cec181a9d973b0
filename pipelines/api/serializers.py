from rest_framework import serializers

from pipelines.models import Pipeline, Stage, StageKind

MAX_STAGES = 100


class ArchivedField(serializers.BooleanField):
    """``archived`` in answers: whether the row has an ``archived_at``."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def get_attribute(self, instance):
        return instance.archived_at is not None


class StageSerializer(serializers.ModelSerializer):
    archived = ArchivedField()
    position = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="0 for the first stage; null once archived."
    )

    class Meta:
        model = Stage
        fields = ["id", "name", "kind", "position", "archived", "created_at", "updated_at"]
        read_only_fields = fields


class PipelineSerializer(serializers.ModelSerializer):
    archived = ArchivedField()
    # Views load pipelines with ``selectors.active_stages()``: no query per pipeline.
    stages = StageSerializer(
        source="active_stages",
        many=True,
        read_only=True,
        help_text="The active stages, in order. Archived stages are not listed.",
    )

    class Meta:
        model = Pipeline
        fields = ["id", "name", "is_default", "archived", "created_at", "updated_at", "stages"]
        read_only_fields = fields


class StageInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=StageKind.choices)


class PipelineCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    stages = StageInputSerializer(
        many=True,
        allow_empty=False,
        max_length=MAX_STAGES,
        help_text="In order; names unique (case-insensitive), at least one `open` stage.",
    )
    is_default = serializers.BooleanField(
        default=False,
        help_text="Make it the org's default pipeline. An org's first pipeline always is.",
    )


class PipelineUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    is_default = serializers.BooleanField(
        required=False,
        help_text="Only `true` changes anything: the previous default stops being one.",
    )
    archived = serializers.BooleanField(
        required=False, help_text="The default pipeline cannot be archived."
    )


class StageCreateSerializer(StageInputSerializer):
    position = serializers.IntegerField(
        min_value=0,
        required=False,
        help_text="Where to insert it; the stages from there on move one down. "
        "Absent or beyond the last stage: at the end.",
    )


class StageUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    kind = serializers.ChoiceField(choices=StageKind.choices, required=False)
    archived = serializers.BooleanField(
        required=False,
        help_text="`true` archives the stage (its position frees up); `false` restores it "
        "at the end of the pipeline.",
    )
    target_stage_id = serializers.UUIDField(
        required=False,
        help_text="Another active stage of the same pipeline, where the leads of a stage "
        "being archived move (each with a `stage_changed` activity). Required to archive "
        "a stage that holds leads.",
    )


class StageReorderSerializer(serializers.Serializer):
    stage_ids = serializers.ListField(
        child=serializers.UUIDField(),
        max_length=1000,
        help_text="Every active stage id of the pipeline, each once, in the new order.",
    )


class StageSummarySerializer(serializers.Serializer):
    stage_id = serializers.UUIDField(source="id")
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=StageKind.choices)
    position = serializers.IntegerField()
    lead_count = serializers.IntegerField()
    value_cents = serializers.IntegerField(help_text="The sum of the leads' values.")


class PipelineSummarySerializer(serializers.Serializer):
    pipeline_id = serializers.UUIDField()
    lead_count = serializers.IntegerField(help_text="All leads of the active stages.")
    value_cents = serializers.IntegerField()
    stages = StageSummarySerializer(many=True, help_text="The active stages, in order.")
