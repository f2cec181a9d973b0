"""One batch of records written in the caller's transaction.

Guarantees:
1. A row matches a lead by the job's match key (the email, compared without case, or
   the external id), failing that by the other of the two, since both are unique per
   org. Rows of earlier batches are in the database already, and a lead an earlier
   row of this batch creates counts as existing: a file's duplicates meet their first
   occurrence.
2. A match is skipped, updated or reported as the job's ``on_duplicate`` says. An
   update writes the values a row gives (an empty cell changes nothing); a row that
   would change nothing is skipped, so importing the same file again writes nothing
   in any mode.
3. Leads, their activities, their events and the batch's issues are written in the
   caller's transaction: they commit together with the job's counters, or not at all.
4. A lead someone else creates with the same email or external id between the match
   and the insert is not doubled: the insert skips it and the row is reported failed.
   Matched leads are locked before an update, so a concurrent edit is not lost.
5. A row's warnings are reported only when the row is written: a skipped row reports
   nothing.
"""

import operator
import uuid
from dataclasses import dataclass, field

from django.contrib.postgres.fields import ArrayField
from django.db.models import CharField, F, Lookup, Value
from django.utils import timezone
from rest_framework import serializers

from apollo.bulk import NEW_UUID, insert_rows, update_rows
from leads.imports.context import ImportContext
from leads.imports.normalize import ERROR, WARNING, Draft, Issue
from leads.models import Activity, Lead, LeadImportIssue
from webhooks.services import events_emit_many

SKIP, UPDATE = "skip", "update"
LEAD_COLUMNS = (
    "id",
    "organization_id",
    "pipeline_id",
    "stage_id",
    "contact_name",
    "company_name",
    "email",
    "phone",
    "phone_extension",
    "website",
    "source",
    "owner_id",
    "tags",
    "value_cents",
    "external_id",
    "custom_fields",
    "created_at",
    "updated_at",
    "last_activity_at",
)
# Fields whose change an update reports as ``field_updated``; stage, pipeline and
# owner have activities of their own.
PLAIN_FIELDS = (
    "contact_name",
    "company_name",
    "email",
    "phone",
    "phone_extension",
    "website",
    "source",
    "tags",
    "value_cents",
    "external_id",
    "custom_fields",
)
# The fields of ``leads.api.serializers.LeadSerializer``, in its order, but ``stage``.
EVENT_FIELDS = (
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
    "owner_id",
    "tags",
    "value_cents",
    "external_id",
    "custom_fields",
    "created_at",
    "updated_at",
    "last_activity_at",
)
# Columns copied row by row; the others are the same in every row of a batch.
ACTIVITY_COLUMNS = ("lead_id", "type", "data")
ISSUE_COLUMNS = (
    "severity",
    "row",
    "column",
    "code",
    "message",
    "value",
)


@dataclass
class Counts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    warnings: int = 0


@dataclass(eq=False, slots=True)
class Entry:
    """A lead this batch creates or changes, as column values, with the rows that did."""

    lead: dict
    is_new: bool
    original: dict | None = None
    rows: list = field(default_factory=list)


def write_batch(context: ImportContext, records) -> Counts:
    """Write ``records`` (the rows of one batch) in the caller's transaction."""
    batch = Batch(context)
    drafts = batch.normalize(records)
    batch.load_matches(drafts)
    for draft in drafts:
        batch.place(draft)
    batch.flush()
    return batch.counts


class Batch:
    def __init__(self, context: ImportContext):
        self.context = context
        self.now = timezone.now()
        self.counts = Counts()
        self.issues: list[Issue] = []
        self.entries: list[Entry] = []
        self.by_email: dict[str, Entry] = {}
        self.by_external_id: dict[str, Entry] = {}
        # (lead id, activity type, data), in the order the rows came.
        self.activities: list[tuple] = []
        self._texts: dict = {}

    # Reading

    def normalize(self, records) -> list[Draft]:
        drafts = []
        mapper, normalizer = self.context.mapper, self.context.normalizer
        for record in records:
            self.counts.rows += 1
            plan = mapper.plan(record.values) if record.values is not None else None
            draft, error = normalizer.draft(record, plan)
            if error is not None:
                self._fail(error)
            else:
                drafts.append(draft)
        return drafts

    def load_matches(self, drafts: list[Draft]) -> None:
        emails = {d.values["email"].lower() for d in drafts if "email" in d.values}
        external_ids = {d.values["external_id"] for d in drafts if "external_id" in d.values}
        leads = Lead.objects.filter(organization_id=self.context.organization_id)
        if self.context.on_duplicate == UPDATE:
            leads = leads.select_for_update()
        # Two queries, each the shape of one unique index: (organization, email_ci) and
        # (organization, external_id). Their OR made the planner scan the org's leads.
        found = {}
        if emails:
            by_email = leads.filter(_Any(F("email_ci"), emails)).exclude(email_ci="")
            found.update((lead["id"], lead) for lead in by_email.values(*LEAD_COLUMNS))
        if external_ids:
            by_external_id = leads.filter(_Any(F("external_id"), external_ids))
            found.update((lead["id"], lead) for lead in by_external_id.values(*LEAD_COLUMNS))
        for lead in found.values():
            self._register(Entry(lead, is_new=False))

    def _register(self, entry: Entry) -> None:
        if entry.lead["email"]:
            self.by_email[entry.lead["email"].lower()] = entry
        if entry.lead["external_id"]:
            self.by_external_id[entry.lead["external_id"]] = entry

    # Deciding

    def place(self, draft: Draft) -> None:
        email = draft.values.get("email", "").lower()
        external_id = draft.values.get("external_id")
        by_email = self.by_email.get(email) if email else None
        by_external_id = self.by_external_id.get(external_id) if external_id else None
        if self.context.match_key == "email":
            primary, secondary = by_email, by_external_id
        else:
            primary, secondary = by_external_id, by_email
        target = primary or secondary

        if target is None:
            self._create(draft)
        elif self.context.on_duplicate == SKIP:
            self.counts.skipped += 1
        elif secondary is not None and primary not in (None, secondary):
            self._fail(self._conflict(draft, by_email, by_external_id))
        elif self.context.on_duplicate == UPDATE:
            self._update(target, draft)
        else:
            self._fail(self._duplicate(draft, target, matched_email=target is by_email))

    def _create(self, draft: Draft) -> None:
        context = self.context
        stage = self._stage(draft, is_new=True) or context.first_stage
        lead = {
            "id": uuid.uuid4(),
            "organization_id": context.organization_id,
            "pipeline_id": context.pipeline.pk,
            "stage_id": stage.pk,
            "company_name": "",
            "email": "",
            "phone": "",
            "phone_extension": "",
            "website": "",
            "source": "",
            "owner_id": self._owner(draft, is_new=True),
            "tags": [],
            "value_cents": 0,
            "external_id": None,
            **draft.values,
            "custom_fields": draft.custom_fields,
            "created_at": self.now,
            "updated_at": self.now,
            "last_activity_at": self.now,
        }
        entry = Entry(lead, is_new=True)
        self._register(entry)
        self.entries.append(entry)
        self.counts.created += 1
        self._written(entry, draft, "created")

    def _update(self, entry: Entry, draft: Draft) -> None:
        lead = entry.lead
        changes = {name: value for name, value in draft.values.items() if lead[name] != value}
        custom_fields = {**lead["custom_fields"], **draft.custom_fields}
        if custom_fields != lead["custom_fields"]:
            changes["custom_fields"] = custom_fields
        stage = self._stage(draft, is_new=False)
        if stage is not None and stage.pk != lead["stage_id"]:
            changes.update(stage_id=stage.pk, pipeline_id=self.context.pipeline.pk)
        owner_id = self._owner(draft, is_new=False)
        if owner_id is not None and owner_id != lead["owner_id"]:
            changes["owner_id"] = owner_id
        if not changes:
            self.counts.skipped += 1
            return

        if not entry.is_new and entry.original is None:
            entry.original = dict(lead)
            self.entries.append(entry)
        lead.update(changes, updated_at=self.now, last_activity_at=self.now)
        self._register(entry)
        self.counts.updated += 1
        self._written(entry, draft, "updated")

    def _stage(self, draft: Draft, *, is_new: bool):
        if not draft.stage:
            return None
        stage = self.context.stage_for(draft.stage)
        if stage is None:
            outcome = (
                f"the lead went to {self.context.first_stage.name!r}"
                if is_new
                else "the lead keeps its stage"
            )
            self._warn(
                draft,
                "stage",
                "stage_unknown",
                f"No stage of this name in pipeline {self.context.pipeline.name!r}; {outcome}.",
                draft.stage,
            )
        return stage

    def _owner(self, draft: Draft, *, is_new: bool):
        if not draft.owner:
            return None
        owner_id = self.context.owner_for(draft.owner)
        if owner_id is None:
            outcome = "the lead is unassigned" if is_new else "the lead keeps its owner"
            self._warn(
                draft,
                "owner",
                "owner_unknown",
                f"No single member has this email or name; {outcome}.",
                draft.owner,
            )
        return owner_id

    def _written(self, entry: Entry, draft: Draft, action: str) -> None:
        lead_id = entry.lead["id"]
        entry.rows.append((draft.row, action))
        self.activities.append(
            (
                lead_id,
                Activity.Type.LEAD_IMPORTED,
                {"import_id": str(self.context.job_id), "row": draft.row, "action": action},
            )
        )
        if draft.note:
            self.activities.append((lead_id, Activity.Type.NOTE_ADDED, {"body": draft.note}))
        self.issues.extend(draft.warnings)

    # Issues

    def _warn(self, draft: Draft, field_name: str, code: str, message: str, value: str):
        column = draft.plan.fields.get(field_name, "") if draft.plan else ""
        draft.warnings.append(Issue(WARNING, draft.row, column, code, message, value[:500]))

    def _fail(self, issue: Issue) -> None:
        self.counts.failed += 1
        self.issues.append(issue)

    def _duplicate(self, draft: Draft, target: Entry, *, matched_email: bool) -> Issue:
        key, field_name = ("email", "email") if matched_email else ("external id", "external_id")
        if target.is_new:
            where = f"row {target.rows[0][0]} of this file"
        else:
            where = f"lead {target.lead['id']}"
        return Issue(
            ERROR,
            draft.row,
            draft.plan.fields.get(field_name, ""),
            "lead_duplicate",
            f"A lead with this {key} already exists ({where}).",
            str(draft.values.get(field_name, "")),
        )

    def _conflict(self, draft: Draft, by_email: Entry, by_external_id: Entry) -> Issue:
        return Issue(
            ERROR,
            draft.row,
            draft.plan.fields.get("email", ""),
            "lead_conflict",
            f"The email matches lead {by_email.lead['id']} and the external id matches "
            f"lead {by_external_id.lead['id']}; neither is changed.",
            draft.values.get("email", ""),
        )

    # Writing

    def flush(self) -> None:
        created = [entry for entry in self.entries if entry.is_new]
        updated = [entry for entry in self.entries if not entry.is_new]
        inserted = self._insert(created)
        lost = {entry.lead["id"] for entry in created if entry.lead["id"] not in inserted}
        for entry in created:
            if entry.lead["id"] in lost:
                self._lost(entry)
        update_rows(Lead, LEAD_COLUMNS, [_lead_row(entry.lead) for entry in updated])

        kept = [entry for entry in created if entry.lead["id"] not in lost]
        self._write_timeline(kept, updated, lost)
        self._write_issues()

    def _insert(self, created: list[Entry]) -> set:
        """Insert the new leads but those taken meanwhile; the ids that went in."""
        # The leads a batch creates share these values: sent once, not row by row.
        shared = {
            "organization_id": self.context.organization_id,
            "pipeline_id": self.context.pipeline.pk,
            "created_at": self.now,
            "updated_at": self.now,
            "last_activity_at": self.now,
        }
        columns = [name for name in LEAD_COLUMNS if name not in shared]
        row = operator.itemgetter(*columns)
        rows = [row(entry.lead) for entry in created]
        return set(insert_rows(Lead, columns, rows, same=shared, skip_conflicts=True))

    def _lost(self, entry: Entry) -> None:
        for row, action in entry.rows:
            setattr(self.counts, action, getattr(self.counts, action) - 1)
            self._fail(
                Issue(
                    ERROR,
                    row,
                    "",
                    "lead_duplicate",
                    "Another lead with this email or external id was created while the import ran.",
                )
            )

    def _write_timeline(self, created: list[Entry], updated: list[Entry], lost: set) -> None:
        activities = [a for a in self.activities if a[0] not in lost]
        events = [("lead.created", self._lead_data(entry.lead)) for entry in created]
        for entry in updated:
            activities.extend(self._change_activities(entry))
            events.extend(self._change_events(entry))

        context, now = self.context, self.now
        insert_rows(
            Activity,
            ACTIVITY_COLUMNS,
            activities,
            same={
                "id": NEW_UUID,
                "organization_id": context.organization_id,
                "actor_type": context.actor_type,
                "actor_id": context.actor_id,
                "created_at": now,
            },
        )
        events_emit_many(organization_id=context.organization_id, events=events)

    def _change_activities(self, entry: Entry) -> list[tuple]:
        """The activities of ``leads.services`` for the same change, in its shapes."""
        before, after, lead_id = entry.original, entry.lead, entry.lead["id"]
        activities = []
        if before["pipeline_id"] != after["pipeline_id"]:
            change = _refs(before, after, "pipeline_id", self.context.pipeline_names)
            activities.append((lead_id, Activity.Type.PIPELINE_MOVED, change))
        if before["stage_id"] != after["stage_id"]:
            change = _refs(before, after, "stage_id", self.context.stage_names)
            activities.append((lead_id, Activity.Type.STAGE_CHANGED, change))
        if before["owner_id"] != after["owner_id"]:
            change = {"from": _str(before["owner_id"]), "to": _str(after["owner_id"])}
            activities.append((lead_id, Activity.Type.ASSIGNMENT_CHANGED, change))
        for name in PLAIN_FIELDS:
            if name == "custom_fields":
                old, new = before[name], after[name]
                changed = [
                    (f"custom_fields.{key}", old.get(key), new.get(key))
                    for key in sorted(old.keys() | new.keys())
                    if old.get(key) != new.get(key)
                ]
            elif before[name] != after[name]:
                changed = [(name, before[name], after[name])]
            else:
                continue
            activities.extend(
                (lead_id, Activity.Type.FIELD_UPDATED, {"field": f, "before": b, "after": a})
                for f, b, a in changed
            )
        return activities

    def _change_events(self, entry: Entry) -> list[tuple]:
        data = self._lead_data(entry.lead)
        events = [("lead.updated", data)]
        if entry.original["stage_id"] != entry.lead["stage_id"]:
            events.append(("lead.stage_changed", data))
        return events

    def _lead_data(self, lead: dict) -> dict:
        """The lead as ``LeadSerializer`` shows it: the body of its events."""
        data = dict(zip(EVENT_FIELDS, _event_values(lead), strict=True))
        data["id"] = str(lead["id"])
        for name in ("pipeline_id", "stage_id", "owner_id"):
            data[name] = self._shared_text(data[name], _str)
        for name in ("created_at", "updated_at", "last_activity_at"):
            data[name] = self._shared_text(data[name], _iso)
        data["stage"] = self.context.stage_names.get(lead["stage_id"])
        return data

    def _shared_text(self, value, convert) -> str | None:
        # The leads of a batch share a few pipelines, stages, owners and timestamps:
        # each is converted once.
        if value not in self._texts:
            self._texts[value] = convert(value)
        return self._texts[value]

    def _write_issues(self) -> None:
        context = self.context
        self.counts.warnings = sum(1 for issue in self.issues if issue.severity == WARNING)
        insert_rows(
            LeadImportIssue,
            ISSUE_COLUMNS,
            [
                (
                    issue.severity,
                    issue.row,
                    issue.column[:100],
                    issue.code,
                    issue.message[:500],
                    issue.value[:500],
                )
                for issue in self.issues
            ],
            same={"organization_id": context.organization_id, "job_id": context.job_id},
        )


class _Any(Lookup):
    """``column = ANY(array)``: one parameter, where ``__in`` would compile a thousand."""

    lookup_name = "any"

    def __init__(self, lhs, values):
        super().__init__(lhs, Value(list(values), output_field=ArrayField(CharField())))

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


_lead_row = operator.itemgetter(*LEAD_COLUMNS)
_event_values = operator.itemgetter(*EVENT_FIELDS)


def _refs(before: dict, after: dict, name: str, names: dict) -> dict:
    return {
        "from": {"id": _str(before[name]), "name": names.get(before[name])},
        "to": {"id": _str(after[name]), "name": names.get(after[name])},
    }


def _str(value) -> str | None:
    return str(value) if value is not None else None


_datetime_field = serializers.DateTimeField()


def _iso(value) -> str | None:
    # As the API writes it: microseconds and "Z", where DjangoJSONEncoder cuts to millis.
    return _datetime_field.to_representation(value) if value is not None else None
