"""The shapes of leads, custom field definitions and activities, in and out.

These serializers check types and sizes; the rules (uniqueness, placement, custom field
values, tag normalization) live in ``leads.services``, where the import and the agents
meet them too. Webhook events carry the same representations as the API answers.
"""

import datetime
from collections.abc import Mapping

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from leads.models import Activity, LeadField

MAX_VALUE_CENTS = 2**63 - 1


class StrictSerializer(serializers.Serializer):
    """Refuses a body key that is none of its fields, where DRF would drop it silently.

    Read-only fields count as known, so a client may send back an object it read.
    """

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [serializers.ErrorDetail("Unknown field.", code="unknown_field")]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


# What ``LeadSerializer.to_representation`` reads. A list fetches these as named rows
# (``values_list(named=True)``): building a model instance per lead cost more than
# representing it.
LEAD_ROW_FIELDS = (
    "id",
    "contact_name",
    "company_name",
    "email",
    "phone",
    "phone_extension",
    "website",
    "source",
    "pipeline_id",
    "stage_id",
    "stage_name",
    "owner_id",
    "tags",
    "value_cents",
    "external_id",
    "custom_fields",
    "created_at",
    "updated_at",
    "last_activity_at",
)


@extend_schema_field(
    {
        "anyOf": [
            {"type": "string", "format": "email", "maxLength": 254},
            {"type": "string", "maxLength": 0},
        ]
    }
)
class BlankableEmailField(serializers.EmailField):
    """An email address, or "" for none: the schema says both."""


class LeadSerializer(StrictSerializer):
    id = serializers.UUIDField(read_only=True)
    contact_name = serializers.CharField(max_length=200)
    company_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    email = BlankableEmailField(
        max_length=254,
        required=False,
        allow_blank=True,
        help_text="Unique in the organization, compared case-insensitively; stored as given.",
    )
    phone = serializers.CharField(
        max_length=16,
        required=False,
        allow_blank=True,
        help_text="E.164, such as +14155550123.",
    )
    phone_extension = serializers.RegexField(
        r"^\d{0,10}$", required=False, allow_blank=True, help_text="Digits only; empty for none."
    )
    website = serializers.CharField(max_length=500, required=False, allow_blank=True)
    source = serializers.CharField(max_length=100, required=False, allow_blank=True)
    pipeline_id = serializers.UUIDField(
        required=False,
        help_text="On create, defaults to the organization's default pipeline. Changing it "
        "without stage_id moves the lead to the first stage of the new pipeline.",
    )
    stage_id = serializers.UUIDField(
        required=False,
        help_text="An active stage of the lead's pipeline (or of pipeline_id when sent); "
        "defaults to the pipeline's first stage.",
    )
    stage = serializers.CharField(
        source="stage.name", read_only=True, help_text="The name of the lead's stage."
    )
    owner_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="A member of the organization; null for unassigned.",
    )
    tags = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="Stored trimmed, lowercase, with single spaces and without repeats; "
        "at most 50 tags of at most 50 characters.",
    )
    value_cents = serializers.IntegerField(
        min_value=0,
        max_value=MAX_VALUE_CENTS,
        required=False,
        help_text="The deal's value in cents of the organization's currency.",
    )
    external_id = serializers.CharField(
        max_length=100,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="The lead's id in another system; unique in the organization when set.",
    )
    custom_fields = serializers.DictField(
        required=False,
        help_text="Values keyed by the key of a custom field definition, each checked "
        "against its type. On update, the keys sent are merged into the lead's values; "
        "null removes one.",
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    last_activity_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def to_representation(self, lead):
        """The answer the fields above give, built directly.

        A list page holds up to 200 leads, and DRF's per-field machinery was most of
        its time; ``fields_representation`` keeps the slow path for a test to compare.
        ``lead`` is a model instance, or a list's named row of ``LEAD_ROW_FIELDS``.
        """
        # A list annotates the name (``selectors.stage_name_of_lead``); an instance
        # a service returns has its stage loaded.
        stage_name = getattr(lead, "stage_name", None)
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
            "stage": lead.stage.name if stage_name is None else stage_name,
            "owner_id": str(lead.owner_id) if lead.owner_id else None,
            "tags": list(lead.tags),
            "value_cents": lead.value_cents,
            "external_id": lead.external_id,
            "custom_fields": lead.custom_fields,
            "created_at": _timestamp(lead.created_at),
            "updated_at": _timestamp(lead.updated_at),
            "last_activity_at": _timestamp(lead.last_activity_at),
        }

    def fields_representation(self, lead):
        return super().to_representation(lead)


def _timestamp(value):
    """ISO 8601 in UTC with ``Z``, as DRF's DateTimeField writes it."""
    if value is None:
        return None
    text = value.astimezone(datetime.UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class LeadFieldSerializer(StrictSerializer):
    id = serializers.UUIDField(read_only=True)
    key = serializers.RegexField(
        r"^[a-z][a-z0-9_]{0,63}$",
        help_text="Lowercase letters, digits and underscores, starting with a letter; "
        "unique in the organization. Cannot change after creation.",
    )
    label = serializers.CharField(max_length=100)
    type = serializers.ChoiceField(
        choices=LeadField.Type.choices, help_text="Cannot change after creation."
    )
    options = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        help_text="The choices of a select or multi_select field; empty for other types.",
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class ActorSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        source="actor_type", choices=["user", "agent", "system"], read_only=True
    )
    id = serializers.UUIDField(
        source="actor_id",
        read_only=True,
        allow_null=True,
        help_text="The user's or agent's id; null for the system.",
    )


class ActivitySerializer(StrictSerializer):
    id = serializers.UUIDField(read_only=True)
    lead_id = serializers.UUIDField(read_only=True)
    type = serializers.ChoiceField(choices=Activity.Type.choices, read_only=True)
    actor = ActorSerializer(source="*", read_only=True)
    data = serializers.DictField(
        read_only=True,
        help_text="Depends on the type: {body} for a note, {summary, duration_seconds} for "
        "a call or meeting, {from, to} for stage, pipeline and owner changes, "
        "{field, before, after} for a field update.",
    )
    created_at = serializers.DateTimeField(read_only=True)


class ActivityCreateSerializer(StrictSerializer):
    type = serializers.ChoiceField(
        choices=[(value, value) for value in Activity.CLIENT_TYPES],
        help_text="The kinds of entries a client may log; the others are written by Apollo.",
    )
    data = serializers.DictField(
        help_text='note_added: {"body": text}. call_logged and meeting_logged: '
        '{"summary": text, "duration_seconds": optional integer up to 86400}. '
        "Texts are at most 10000 characters."
    )
