import phonenumbers
from rest_framework import serializers

from apollo.parsers import nul_path
from leads.imports.jobs import MATCH_KEYS, ON_DUPLICATE
from leads.imports.mapping import FIELDS
from leads.models import LeadImport, LeadImportIssue

REGIONS = ["US", *sorted(phonenumbers.SUPPORTED_REGIONS - {"US"})]
MAPPING_HELP = (
    "JSON object from column name to lead field: one of "
    + ", ".join(f"`{name}`" for name in FIELDS)
    + ", `custom_fields.<key>` of a custom field, or null to ignore the column. Columns "
    "left out are mapped by their names (`First Name` + `Last Name`, `Email 1`, "
    "`Company`, `Phone 1`, `Deal Stage`, `Lead Owner`, `Account Id`, `Notes`, ...)."
)


class JsonTextField(serializers.JSONField):
    """A JSON document sent as a form field's text."""

    def __init__(self, **kwargs):
        super().__init__(binary=True, **kwargs)

    def to_internal_value(self, data):
        try:
            value = super().to_internal_value(data)
            path = nul_path(value)
        except RecursionError:
            self.fail("invalid")
        if path is not None:
            raise serializers.ValidationError(
                "Null characters are not allowed.", code="null_characters_not_allowed"
            )
        return value


class LeadImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV (`,` `;` or tab separated; UTF-8, UTF-16 or Windows-1252) or "
        "JSON lines, with a header row for CSV."
    )
    mapping = JsonTextField(required=False, allow_null=True, help_text=MAPPING_HELP)
    pipeline_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Default: the org's default pipeline."
    )
    match_key = serializers.ChoiceField(
        choices=MATCH_KEYS,
        default="email",
        help_text="How a row finds the lead it duplicates.",
    )
    on_duplicate = serializers.ChoiceField(
        choices=ON_DUPLICATE,
        default="skip",
        help_text="What a row that matches a lead (in the org or earlier in the file) "
        "does: leave it, write its non-empty values over the lead's, or fail.",
    )
    default_region = serializers.ChoiceField(
        choices=REGIONS,
        default="US",
        help_text="Region (ISO 3166 code) of phone numbers written without a country code.",
    )
    create_missing_stages = serializers.BooleanField(
        default=False,
        help_text="Add a stage the pipeline lacks, instead of using its first stage.",
    )

    def validate_mapping(self, value):
        if value is None:
            return None
        if not isinstance(value, dict) or not all(
            isinstance(target, str | None) for target in value.values()
        ):
            raise serializers.ValidationError(
                "Must be a JSON object of column names to field names or null."
            )
        return value


class ColumnSerializer(serializers.Serializer):
    column = serializers.CharField(read_only=True, help_text="The column's name in the file.")
    field = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The lead field it fills (`custom_fields.<key>` for a custom field), or "
        "null for a column the import ignores (a second email or phone, an index).",
    )


class LeadImportSerializer(serializers.ModelSerializer):
    pipeline_id = serializers.UUIDField(source="options.pipeline_id", read_only=True)
    match_key = serializers.CharField(source="options.match_key", read_only=True)
    on_duplicate = serializers.CharField(source="options.on_duplicate", read_only=True)
    default_region = serializers.CharField(source="options.default_region", read_only=True)
    create_missing_stages = serializers.BooleanField(
        source="options.create_missing_stages", read_only=True
    )
    mapping = serializers.DictField(
        source="options.mapping",
        child=serializers.CharField(allow_null=True),
        read_only=True,
        allow_null=True,
        help_text="The mapping sent with the upload, if any.",
    )
    columns = ColumnSerializer(
        source="options.columns",
        many=True,
        read_only=True,
        allow_null=True,
        help_text="How the file's columns are read, in the file's order.",
    )
    rows = serializers.IntegerField(
        read_only=True,
        help_text="Data rows in the file, counted at upload. Rows done so far: created "
        "+ updated + skipped + failed.",
    )
    warnings = serializers.IntegerField(
        read_only=True, help_text="Warnings recorded: values left out of written leads."
    )
    error = serializers.SerializerMethodField(help_text="Why a failed import failed.")
    created_by_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = LeadImport
        fields = [
            "id",
            "status",
            "file_name",
            "file_format",
            "pipeline_id",
            "match_key",
            "on_duplicate",
            "default_region",
            "create_missing_stages",
            "mapping",
            "columns",
            "rows",
            "created",
            "updated",
            "skipped",
            "failed",
            "warnings",
            "cancel_requested",
            "error",
            "created_by_id",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_error(self, job) -> str | None:
        return job.error or None


class LeadImportIssueSerializer(serializers.ModelSerializer):
    row = serializers.IntegerField(
        read_only=True,
        help_text="1-based data row (the header is not counted); a JSON lines file's line.",
    )
    column = serializers.CharField(
        read_only=True, help_text="The file's column at fault; empty for the whole row."
    )
    value = serializers.CharField(read_only=True, help_text="The raw value, when one is at fault.")

    class Meta:
        model = LeadImportIssue
        fields = ["severity", "row", "column", "code", "message", "value"]
        read_only_fields = fields
