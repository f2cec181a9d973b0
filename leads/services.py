"""Writes and rules for leads, their custom field definitions and their timeline.

Guarantees:
1. A change to a lead, the activities it appends and the events it emits commit or roll
   back together: every write runs in one transaction, and events go to the outbox.
2. A lead's stage is an active stage of its pipeline. The id of another org's (or
   another pipeline's) pipeline, stage or user is refused with 400, never used.
3. Email (case-insensitively) and external id are unique per org. A clash answers 409
   ``lead_duplicate`` naming the lead that holds the value; the unique indexes settle
   two concurrent writes the same way.
4. An update locks the lead's row before reading it, so the before/after values of its
   activities are those of the row it changed.
5. ``updated_at`` moves when a field of the lead changes; ``last_activity_at`` whenever
   an activity is appended to its timeline.
"""

import datetime
import logging
import math
import re
import uuid
from dataclasses import dataclass

import phonenumbers
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Func, TextField, Value
from django.db.models.functions import Cast
from django.utils import timezone

from apollo.errors import Conflict, ValidationFailed
from leads import selectors
from leads.api.serializers import MAX_VALUE_CENTS, ActivitySerializer, LeadSerializer
from leads.models import Activity, ActorType, Lead, LeadField
from pipelines import services as pipeline_services
from webhooks.services import event_emit, events_emit_many

logger = logging.getLogger("apollo.leads")

# Plain text fields and their greatest length; contact_name is also required.
TEXT_LIMITS = {
    "contact_name": 200,
    "company_name": 200,
    "website": 500,
    "source": 100,
}
EDITABLE_FIELDS = frozenset(
    {
        *TEXT_LIMITS,
        "email",
        "phone",
        "phone_extension",
        "pipeline_id",
        "stage_id",
        "owner_id",
        "tags",
        "value_cents",
        "external_id",
        "custom_fields",
    }
)
# Changes of these are told by their own activity types, not by field_updated.
PLACEMENT_FIELDS = ("pipeline_id", "stage_id", "owner_id")

MAX_TAGS = 50
MAX_TAG_LENGTH = 50
MAX_OPTIONS = 200
CUSTOM_TEXT_LIMITS = {LeadField.Type.TEXT: 1000, LeadField.Type.LONG_TEXT: 10000}
ACTIVITY_TEXT_LIMIT = 10000
MAX_DURATION_SECONDS = 24 * 3600

FIELD_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
PHONE_EXTENSION = re.compile(r"^\d{1,10}$")
WHITESPACE = re.compile(r"\s+")

# What a client may write on each type of activity it logs: field -> required.
CLIENT_ACTIVITY_FIELDS = {
    Activity.Type.NOTE_ADDED: {"body": True},
    Activity.Type.CALL_LOGGED: {"summary": True, "duration_seconds": False},
    Activity.Type.MEETING_LOGGED: {"summary": True, "duration_seconds": False},
}


@dataclass(frozen=True)
class Actor:
    """Who made a change: a user, an agent, or the system itself."""

    type: str
    id: object = None

    @classmethod
    def user(cls, user) -> "Actor":
        return cls(ActorType.USER, user.pk)

    @classmethod
    def agent(cls, agent_id) -> "Actor":
        return cls(ActorType.AGENT, agent_id)

    @classmethod
    def system(cls) -> "Actor":
        return cls(ActorType.SYSTEM)


class Invalid(Exception):
    """A value breaks a rule; the caller knows which field it was."""

    def __init__(self, message: str, code: str = "invalid"):
        super().__init__(message)
        self.code = code


class Problems:
    """The validation problems of one write, raised together as one 400."""

    def __init__(self):
        self.details: list[dict] = []

    def add(self, field: str, message: str, code: str = "invalid") -> None:
        self.details.append({"field": field, "code": code, "message": message})

    def check(self, field: str, check, *args):
        """``check(*args)``, or None with the problem recorded when it raises ``Invalid``."""
        try:
            return check(*args)
        except Invalid as invalid:
            self.add(field, str(invalid), invalid.code)
            return None

    def raise_any(self) -> None:
        if self.details:
            raise ValidationFailed(details=self.details)


# Leads


@transaction.atomic
def lead_create(*, organization, actor: Actor, **fields) -> Lead:
    """A new lead in the pipeline and stage asked for, or the default pipeline's first."""
    _refuse_unknown(fields)
    problems = Problems()
    if fields.get("contact_name") is None:
        problems.add("contact_name", "This field is required.", "required")
    values = _cleaned(organization.id, fields, problems, lead=None)
    placement = _placement(
        organization.id, fields.get("pipeline_id"), fields.get("stage_id"), problems, lead=None
    )
    problems.raise_any()
    _refuse_duplicates(organization.id, values)

    now = timezone.now()
    pipeline, stage = placement
    lead = Lead(
        organization=organization,
        pipeline=pipeline,
        stage=stage,
        created_at=now,
        updated_at=now,
        last_activity_at=now,
        **values,
    )
    _save(lead, force_insert=True)
    _confirm_stage_active(stage)
    created = {"pipeline": _ref(pipeline), "stage": _ref(stage)}
    activities = _append(lead, actor, [(Activity.Type.LEAD_CREATED, created)], now)

    _emit(lead, "lead.created")
    _emit_activities(activities)
    return lead


@transaction.atomic
def lead_update(lead: Lead, *, actor: Actor, **changes) -> Lead:
    """Apply ``changes`` and append an activity for each value that really changed."""
    _refuse_unknown(changes)
    lead = (
        Lead.objects.select_for_update(of=("self",))
        .select_related("pipeline", "stage")
        .get(pk=lead.pk)
    )
    problems = Problems()
    values = _cleaned(lead.organization_id, changes, problems, lead=lead)
    placement = _placement(
        lead.organization_id, changes.get("pipeline_id"), changes.get("stage_id"), problems, lead
    )
    problems.raise_any()
    _refuse_duplicates(lead.organization_id, values, lead=lead)

    entries = _change_entries(lead, values, placement)
    if not entries:
        return lead
    now = timezone.now()
    stage_changed = placement is not None and placement[1].pk != lead.stage_id
    if placement is not None:
        lead.pipeline, lead.stage = placement
    for name, value in values.items():
        setattr(lead, name, value)
    lead.updated_at = lead.last_activity_at = now
    _save(lead)
    if placement is not None:
        _confirm_stage_active(lead.stage)
    activities = _append(lead, actor, entries, now)

    _emit(lead, "lead.updated")
    if stage_changed:
        _emit(lead, "lead.stage_changed")
    _emit_activities(activities)
    return lead


@transaction.atomic
def lead_delete(lead: Lead, *, actor: Actor) -> None:
    """Delete the lead and its timeline; ``lead.deleted`` carries its last representation."""
    lead = Lead.objects.select_for_update(of=("self",)).select_related("stage").get(pk=lead.pk)
    representation = LeadSerializer(lead).data
    lead.delete()
    event_emit(organization_id=lead.organization_id, type="lead.deleted", data=representation)
    logger.info(
        "lead_deleted",
        extra={
            "org_id": str(lead.organization_id),
            "lead_id": representation["id"],
            "actor_type": actor.type,
            "actor_id": str(actor.id) if actor.id else None,
        },
    )


@transaction.atomic
def activity_log(lead: Lead, *, actor: Actor, type: str, data) -> Activity:
    """An entry a client writes on the timeline: a note, a call or a meeting."""
    if type not in CLIENT_ACTIVITY_FIELDS:
        choices = ", ".join(CLIENT_ACTIVITY_FIELDS)
        raise ValidationFailed.for_field("type", f"Must be one of: {choices}.", "invalid_choice")
    data = _client_activity_data(type, data)
    return activity_append(lead, actor=actor, type=type, data=data)


@transaction.atomic
def activity_append(lead: Lead, *, actor: Actor, type: str, data: dict) -> Activity:
    """Append any type of entry: for Apollo's own code (conversations, imports, agents)."""
    now = timezone.now()
    [activity] = _append(lead, actor, [(type, data)], now)
    Lead.objects.filter(pk=lead.pk).update(last_activity_at=now)
    lead.last_activity_at = now
    _emit_activities([activity])
    return activity


def stage_has_leads(stage) -> bool:
    return Lead.objects.filter(stage=stage).exists()


BULK_CHUNK = 2000


@transaction.atomic
def leads_move_stage(*, from_stage, to_stage, actor: Actor | None) -> int:
    """Move every lead of ``from_stage`` to ``to_stage``, each with its activity and events."""
    change = {"from": _ref(from_stage), "to": _ref(to_stage)}
    return _change_in_bulk(
        from_stage.organization_id,
        Lead.objects.filter(stage=from_stage),
        {"stage": to_stage, "pipeline_id": to_stage.pipeline_id},
        (Activity.Type.STAGE_CHANGED, change),
        actor,
        stage_changed=True,
    )


def on_membership_removed(sender, organization_id, user_id, actor_id, **kwargs):
    """A member who left owns no lead: owners are members (or agents) of the org."""
    leads_unassign(
        organization_id=organization_id, owner_id=user_id, actor=Actor(ActorType.USER, actor_id)
    )


@transaction.atomic
def leads_unassign(*, organization_id, owner_id, actor: Actor | None) -> int:
    """Leave unassigned every lead of the org that ``owner_id`` owns (a member who left)."""
    change = {"from": str(owner_id), "to": None}
    return _change_in_bulk(
        organization_id,
        Lead.objects.filter(organization_id=organization_id, owner_id=owner_id),
        {"owner_id": None},
        (Activity.Type.ASSIGNMENT_CHANGED, change),
        actor,
    )


def _change_in_bulk(
    organization_id, leads, values: dict, activity: tuple, actor, *, stage_changed=False
) -> int:
    """Apply ``values`` to ``leads``, each with the same activity and its events.

    The events go in with ``events_emit_many`` (copied in, not inserted one by one), and
    leads are serialized many at a time: a serializer built per lead costs more than all
    the writes. Tens of thousands of leads change in seconds.
    """
    actor = actor or Actor.system()
    now = timezone.now()
    changed = [lead.pk for lead in leads.select_for_update(of=("self",)).only("id")]
    Lead.objects.filter(pk__in=changed).update(**values, updated_at=now, last_activity_at=now)
    type, data = activity
    activities = Activity.objects.bulk_create(
        Activity(
            organization_id=organization_id,
            lead_id=lead_id,
            type=type,
            actor_type=actor.type,
            actor_id=actor.id,
            data=data,
            created_at=now,
        )
        for lead_id in changed
    )

    events = []
    for start in range(0, len(changed), BULK_CHUNK):
        chunk = Lead.objects.filter(pk__in=changed[start : start + BULK_CHUNK])
        for lead_data in LeadSerializer(chunk.select_related("stage"), many=True).data:
            events.append(("lead.updated", lead_data))
            if stage_changed:
                events.append(("lead.stage_changed", lead_data))
    events += [("activity.created", a) for a in ActivitySerializer(activities, many=True).data]
    events_emit_many(organization_id=organization_id, events=events)
    return len(changed)


# Checking the values of a lead


def _refuse_unknown(fields: dict) -> None:
    unknown = sorted(set(fields) - EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Not editable lead fields: {', '.join(unknown)}")


def _cleaned(organization_id, fields: dict, problems: Problems, *, lead: Lead | None) -> dict:
    """The model values of ``fields`` that pass their rules; the others go to ``problems``.

    Placement (pipeline and stage) is checked apart, by ``_placement``.
    """
    values = {}
    for name, raw in fields.items():
        if name in ("pipeline_id", "stage_id"):
            continue
        if name == "custom_fields":
            current = lead.custom_fields if lead is not None else {}
            value = _custom_fields(organization_id, raw, current, problems)
        elif name == "owner_id":
            value = problems.check(name, _owner, organization_id, raw)
        else:
            value = problems.check(name, _CHECKS[name], raw)
        if value is not None or name in ("owner_id", "external_id"):
            values[name] = value
    return values


def _text(name: str, value, *, required=False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Invalid("Must be a string.")
    value = value.strip()
    if required and not value:
        raise Invalid("This field may not be blank.", "blank")
    if len(value) > TEXT_LIMITS[name]:
        raise Invalid(f"At most {TEXT_LIMITS[name]} characters.", "max_length")
    return value


def _email(value) -> str:
    if not value:
        return ""
    if not isinstance(value, str) or len(value) > 254:
        raise Invalid("Enter a valid email address.")
    try:
        validate_email(value.strip())
    except DjangoValidationError:
        raise Invalid("Enter a valid email address.") from None
    return value.strip()


def phone_check(value) -> str:
    """An E.164 number of a possible length for its country, or ``Invalid``.

    Numbers are stored as sent: normalizing local formats is the import's job, which
    knows the default region.
    """
    if not value:
        return ""
    message = "Enter an E.164 phone number, such as +14155550123."
    if not isinstance(value, str) or not E164.match(value):
        raise Invalid(message)
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise Invalid(message) from None
    if not phonenumbers.is_possible_number(number):
        raise Invalid("This phone number has an impossible length for its country.")
    return value


def _phone_extension(value) -> str:
    if not value:
        return ""
    if not isinstance(value, str) or not PHONE_EXTENSION.match(value):
        raise Invalid("At most 10 digits.")
    return value


def tag_normalize(tag: str) -> str:
    """Trimmed, lowercase, single-spaced: how tags are stored and matched."""
    return WHITESPACE.sub(" ", tag).strip().lower()


def tags_normalize(tags) -> list[str]:
    if tags is None:
        return []
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        raise Invalid("Must be a list of strings.")
    normalized = list(dict.fromkeys(t for t in map(tag_normalize, tags) if t))
    if any(len(tag) > MAX_TAG_LENGTH for tag in normalized):
        raise Invalid(f"Each tag has at most {MAX_TAG_LENGTH} characters.", "max_length")
    if len(normalized) > MAX_TAGS:
        raise Invalid(f"At most {MAX_TAGS} tags.", "max_length")
    return normalized


def _value_cents(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("Must be an integer.")
    if not 0 <= value <= MAX_VALUE_CENTS:
        raise Invalid("Must be zero or more.", "min_value")
    return value


def _external_id(value) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid("Must be a string.")
    value = value.strip()
    if len(value) > 100:
        raise Invalid("At most 100 characters.", "max_length")
    return value or None


def _owner(organization_id, value) -> uuid.UUID | None:
    if value is None:
        return None
    user_id = _uuid(value)
    if not selectors.is_member(organization_id, user_id):
        raise Invalid("Must be the id of a member of this organization.", "not_a_member")
    return user_id


def _uuid(value) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Invalid("Must be a valid UUID.") from None


_CHECKS = {
    **{name: (lambda value, name=name: _text(name, value)) for name in TEXT_LIMITS},
    "contact_name": lambda value: _text("contact_name", value, required=True),
    "email": _email,
    "phone": phone_check,
    "phone_extension": _phone_extension,
    "tags": tags_normalize,
    "value_cents": _value_cents,
    "external_id": _external_id,
}


def _custom_fields(organization_id, given, current: dict, problems: Problems) -> dict | None:
    """``current`` with the values of ``given`` merged in, each checked by its definition."""
    if not isinstance(given, dict):
        problems.add("custom_fields", "Must be an object.")
        return None
    definitions = selectors.lead_field_definitions(organization_id) if given else {}
    merged = dict(current)
    for key, raw in given.items():
        field = f"custom_fields.{key}"
        definition = definitions.get(key)
        if definition is None:
            problems.add(field, "No custom field has this key.", "unknown_field")
        elif raw is None:
            merged.pop(key, None)
        else:
            value = problems.check(field, custom_value_check, definition, raw)
            if value is not None:
                merged[key] = value
    return merged


def custom_value_check(definition: LeadField, value):
    """The value as stored, if it suits the definition's type; else ``Invalid``."""
    kind = definition.type
    if kind in CUSTOM_TEXT_LIMITS:
        if not isinstance(value, str):
            raise Invalid("Must be a string.")
        if len(value) > CUSTOM_TEXT_LIMITS[kind]:
            raise Invalid(f"At most {CUSTOM_TEXT_LIMITS[kind]} characters.", "max_length")
        return value
    if kind == LeadField.Type.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
            raise Invalid("Must be a number.")
        return value
    if kind == LeadField.Type.DATE:
        return _date(value)
    if kind == LeadField.Type.SELECT:
        if value not in definition.options:
            raise Invalid(f"Must be one of: {', '.join(definition.options)}.", "invalid_choice")
        return value
    if not isinstance(value, list) or any(choice not in definition.options for choice in value):
        raise Invalid(f"Must be a list of: {', '.join(definition.options)}.", "invalid_choice")
    return list(dict.fromkeys(value))


def _finite(number: int | float) -> bool:
    # An int too large for a float has no finite value a client could read back.
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


def _date(value) -> str:
    message = "Must be a date as YYYY-MM-DD."
    if not isinstance(value, str) or not ISO_DATE.match(value):
        raise Invalid(message)
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise Invalid(message) from None
    return value


def _placement(organization_id, pipeline_id, stage_id, problems: Problems, lead: Lead | None):
    """The (pipeline, stage) a lead goes to, or None when an update leaves it in place.

    No pipeline: the lead's own, or for a new lead the org's default. No stage: the
    lead's own when its pipeline is unchanged, else the pipeline's first active stage.
    """
    if lead is not None and pipeline_id is None and stage_id is None:
        return None
    pipeline = _pipeline(organization_id, pipeline_id, problems, lead)
    if pipeline is None:
        return None
    if stage_id is not None:
        stage_uuid = problems.check("stage_id", _uuid, stage_id)
        if stage_uuid is None:
            return None
        stage = selectors.stage_active(pipeline, stage_uuid)
        if stage is None:
            problems.add("stage_id", f"Must be an active stage of the pipeline {pipeline.name}.")
            return None
    elif lead is not None and pipeline.pk == lead.pipeline_id:
        stage = lead.stage
    else:
        stage = selectors.stage_first(pipeline)
        if stage is None:
            problems.add("pipeline_id", "This pipeline has no active stage.", "no_stage")
            return None
    return pipeline, stage


def _pipeline(organization_id, pipeline_id, problems: Problems, lead: Lead | None):
    if pipeline_id is None:
        if lead is not None:
            return lead.pipeline
        pipeline = selectors.pipeline_default(organization_id)
        if pipeline is None:
            problems.add("pipeline_id", "This organization has no default pipeline.", "required")
        return pipeline
    pipeline_uuid = problems.check("pipeline_id", _uuid, pipeline_id)
    if pipeline_uuid is None:
        return None
    pipeline = selectors.pipeline_active(organization_id, pipeline_uuid)
    if pipeline is None:
        problems.add("pipeline_id", "Must be the id of an active pipeline of this organization.")
    return pipeline


def _refuse_duplicates(organization_id, values: dict, lead: Lead | None = None) -> None:
    exclude_id = lead.pk if lead is not None else None
    if values.get("email"):
        holder = selectors.lead_with_email(organization_id, values["email"], exclude_id=exclude_id)
        if holder is not None:
            raise _duplicate("email", holder.pk)
    if values.get("external_id"):
        holder = selectors.lead_with_external_id(
            organization_id, values["external_id"], exclude_id=exclude_id
        )
        if holder is not None:
            raise _duplicate("external_id", holder.pk)


def _duplicate(field: str, lead_id) -> Conflict:
    message = f"Another lead of this organization has this {field.replace('_', ' ')}."
    return Conflict(
        message,
        code="lead_duplicate",
        details=[
            {"field": field, "code": "duplicate", "message": message, "lead_id": str(lead_id)}
        ],
    )


UNIQUE_CONSTRAINTS = {"lead_email_ci_unique": "email", "lead_external_id_unique": "external_id"}


def _save(lead: Lead, **kwargs) -> None:
    """Save; a unique index that a concurrent write won answers as ``_refuse_duplicates``."""
    try:
        with transaction.atomic():
            lead.save(**kwargs)
    except IntegrityError as error:
        diag = getattr(error.__cause__, "diag", None)
        field = UNIQUE_CONSTRAINTS.get(getattr(diag, "constraint_name", None))
        if field is None:
            raise
        _refuse_duplicates(lead.organization_id, {field: getattr(lead, field)}, lead)
        raise


def _confirm_stage_active(stage) -> None:
    """Hold the lead's stage until this transaction ends, and refuse it if an archive
    committed while this one waited (``pipelines.services.stages_hold``)."""
    if not pipeline_services.stages_hold(stage.pipeline_id, [stage.pk]):
        raise ValidationFailed.for_field(
            "stage_id", "This stage was archived meanwhile; send another one.", "archived"
        )


# The timeline and the events


def _ref(obj) -> dict:
    return {"id": str(obj.pk), "name": obj.name}


def _change_entries(lead: Lead, values: dict, placement) -> list[tuple[str, dict]]:
    """The activities (type, data) that tell how ``values`` and ``placement`` change ``lead``."""
    entries = []
    if placement is not None:
        pipeline, stage = placement
        if pipeline.pk != lead.pipeline_id:
            moved = {"from": _ref(lead.pipeline), "to": _ref(pipeline)}
            entries.append((Activity.Type.PIPELINE_MOVED, moved))
        if stage.pk != lead.stage_id:
            entries.append(
                (Activity.Type.STAGE_CHANGED, {"from": _ref(lead.stage), "to": _ref(stage)})
            )
    if "owner_id" in values and values["owner_id"] != lead.owner_id:
        assigned = {"from": _str_or_none(lead.owner_id), "to": _str_or_none(values["owner_id"])}
        entries.append((Activity.Type.ASSIGNMENT_CHANGED, assigned))
    for name, value in values.items():
        if name == "custom_fields":
            entries.extend(_custom_field_entries(lead.custom_fields, value))
        elif name not in PLACEMENT_FIELDS and getattr(lead, name) != value:
            change = {"field": name, "before": getattr(lead, name), "after": value}
            entries.append((Activity.Type.FIELD_UPDATED, change))
    return entries


def _custom_field_entries(before: dict, after: dict) -> list[tuple[str, dict]]:
    return [
        (
            Activity.Type.FIELD_UPDATED,
            {"field": f"custom_fields.{key}", "before": before.get(key), "after": after.get(key)},
        )
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    ]


def _str_or_none(value) -> str | None:
    return str(value) if value is not None else None


def _append(lead: Lead, actor: Actor, entries, at) -> list[Activity]:
    """Write the (type, data) entries; the caller moves the lead's last_activity_at."""
    return Activity.objects.bulk_create(
        Activity(
            organization_id=lead.organization_id,
            lead_id=lead.pk,
            type=type,
            actor_type=actor.type,
            actor_id=actor.id,
            data=data,
            created_at=at,
        )
        for type, data in entries
    )


def _emit(lead: Lead, type: str) -> None:
    event_emit(organization_id=lead.organization_id, type=type, data=LeadSerializer(lead).data)


def _emit_activities(activities: list[Activity]) -> None:
    for activity in activities:
        event_emit(
            organization_id=activity.organization_id,
            type="activity.created",
            data=ActivitySerializer(activity).data,
        )


def _client_activity_data(type: str, data) -> dict:
    if not isinstance(data, dict):
        raise ValidationFailed.for_field("data", "Must be an object.")
    allowed = CLIENT_ACTIVITY_FIELDS[type]
    problems = Problems()
    for key in sorted(set(data) - set(allowed)):
        problems.add(f"data.{key}", f"A {type} entry has no such field.", "unknown_field")
    for key, required in allowed.items():
        if key not in data:
            if required:
                problems.add(f"data.{key}", "This field is required.", "required")
            continue
        check = _duration if key == "duration_seconds" else _activity_text
        problems.check(f"data.{key}", check, data[key])
    problems.raise_any()
    return {key: data[key] for key in allowed if key in data}


def _activity_text(value) -> str:
    if not isinstance(value, str):
        raise Invalid("Must be a string.")
    if not value.strip():
        raise Invalid("This field may not be blank.", "blank")
    if len(value) > ACTIVITY_TEXT_LIMIT:
        raise Invalid(f"At most {ACTIVITY_TEXT_LIMIT} characters.", "max_length")
    return value


def _duration(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("Must be an integer.")
    if not 0 <= value <= MAX_DURATION_SECONDS:
        raise Invalid(f"Must be from 0 to {MAX_DURATION_SECONDS}.", "out_of_range")
    return value


# Custom field definitions


@transaction.atomic
def lead_field_create(*, organization, key: str, label: str, type: str, options=None) -> LeadField:
    problems = Problems()
    if not isinstance(key, str) or not FIELD_KEY.match(key):
        problems.add("key", "Lowercase letters, digits and underscores, starting with a letter.")
    if type not in LeadField.Type.values:
        problems.add(
            "type", f"Must be one of: {', '.join(LeadField.Type.values)}.", "invalid_choice"
        )
    label = problems.check("label", _label, label)
    options = problems.check("options", _options, type, options)
    problems.raise_any()
    if LeadField.objects.filter(organization=organization, key=key).exists():
        raise _key_taken()

    try:
        with transaction.atomic():
            return LeadField.objects.create(
                organization=organization, key=key, label=label, type=type, options=options
            )
    except IntegrityError:
        raise _key_taken() from None


@transaction.atomic
def lead_field_update(field: LeadField, *, label=None, options=None, key=None, type=None):
    """Relabel a definition or change its options. Key and type are fixed at creation:
    integrations address values by key, and stored values were checked by type.
    """
    problems = Problems()
    if key is not None and key != field.key:
        problems.add("key", "The key of a custom field cannot change.", "immutable")
    if type is not None and type != field.type:
        problems.add("type", "The type of a custom field cannot change.", "immutable")
    if label is not None:
        label = problems.check("label", _label, label)
    if options is not None:
        options = problems.check("options", _options, field.type, options)
    problems.raise_any()

    if label is not None:
        field.label = label
    if options is not None:
        field.options = options
    field.save()
    return field


@transaction.atomic
def lead_field_delete(field: LeadField) -> None:
    """Delete a definition and its values from every lead of the org.

    The values go in one statement, with ``updated_at`` moved so that a sync by
    ``updated_at`` sees them gone; a change of definitions writes no activities.
    """
    Lead.objects.filter(
        organization_id=field.organization_id, custom_fields__has_key=field.key
    ).update(
        custom_fields=Func(
            F("custom_fields"),
            Cast(Value(field.key), TextField()),
            arg_joiner=" - ",
            template="(%(expressions)s)",
        ),
        updated_at=timezone.now(),
    )
    field.delete()


def _label(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("This field may not be blank.", "blank")
    if len(value.strip()) > 100:
        raise Invalid("At most 100 characters.", "max_length")
    return value.strip()


def _options(type: str, options) -> list[str]:
    options = list(options or [])
    has_options = type in (LeadField.Type.SELECT, LeadField.Type.MULTI_SELECT)
    if not has_options:
        if options:
            raise Invalid("Only select and multi_select fields have options.")
        return []
    if not options:
        raise Invalid("A select or multi_select field needs at least one option.", "required")
    if not all(isinstance(o, str) and o.strip() and len(o) <= 100 for o in options):
        raise Invalid("Each option is a non-blank string of at most 100 characters.")
    if len(set(options)) != len(options):
        raise Invalid("Options must be unique.", "duplicate")
    if len(options) > MAX_OPTIONS:
        raise Invalid(f"At most {MAX_OPTIONS} options.", "max_length")
    return options


def _key_taken() -> Conflict:
    return Conflict(
        "A custom field of this organization has this key.", code="lead_field_key_taken"
    )
