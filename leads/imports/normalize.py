"""One record of a file as the values of a lead, with what had to be left out.

A row that cannot make a lead (no name, an invalid email, a broken record) gives an
error. Any other value that cannot be used (a phone, a custom value, a value too long
for its field) is left out of the lead with a warning that keeps the raw value.
Stages and owners are resolved later, by the writer, which knows whether the row
creates or updates a lead.
"""

import decimal
import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from leads.imports.mapping import CUSTOM_PREFIX, Plan
from leads.imports.reading import Record
from leads.services import (
    ACTIVITY_TEXT_LIMIT,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    TEXT_LIMITS,
    Invalid,
    custom_value_check,
    tag_normalize,
)

ERROR, WARNING = "error", "warning"
MAX_LENGTHS = {**TEXT_LIMITS, "email": 254, "external_id": 100}
NAME_PARTS = ("first_name", "last_name")
MAX_EXTENSION_LENGTH = 10
MAX_VALUE_CENTS = 2**63 - 1
ISSUE_VALUE_LENGTH = 500
_validate_email = EmailValidator()


@dataclass(frozen=True, slots=True)
class Issue:
    severity: str
    row: int
    column: str
    code: str
    message: str
    value: str = ""


@dataclass(slots=True)
class Draft:
    """The usable values of one row, keyed by ``Lead`` attribute, only those given."""

    row: int
    values: dict[str, Any]
    custom_fields: dict[str, Any] = field(default_factory=dict)
    stage: str = ""
    owner: str = ""
    note: str = ""
    # Kept back until the row is written: a skipped row reports nothing.
    warnings: list[Issue] = field(default_factory=list)
    plan: Plan | None = None


def text(value) -> str:
    """A raw value of CSV (a string) or of JSON (anything) as stripped text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return ", ".join(text(item) for item in value)
    return str(value).strip()


class Normalizer:
    def __init__(self, *, region: str, lead_fields: dict):
        """``lead_fields``: the org's custom field definitions by key."""
        self.region = region
        self.lead_fields = lead_fields

    def draft(self, record: Record, plan: Plan) -> tuple[Draft | None, Issue | None]:
        """The row's draft, or the error that keeps it from making a lead."""
        if record.values is None:
            return None, Issue(ERROR, record.row, "", "row_malformed", record.problem)
        raw, draft = record.values, Draft(record.row, {}, plan=plan)
        raw, error = self._readable(draft, raw, plan)
        error = error or self._contact_name(draft, raw, plan) or self._email(draft, raw, plan)
        if error is not None:
            return None, error

        self._plain_fields(draft, raw, plan)
        self._stage_owner_note(draft, raw, plan)
        self._phone(draft, raw, plan)
        self._tags(draft, raw, plan)
        self._value(draft, raw, plan)
        self._custom_fields(draft, raw, plan)
        return draft, None

    def _readable(self, draft: Draft, raw: dict, plan: Plan) -> tuple[dict, Issue | None]:
        """The row without the values no field can hold (a JSON line's objects, booleans,
        lists outside tags and custom fields), each left out with a warning; an error
        when the name or the email is one of them. A CSV row, all text, passes as it is."""
        custom = ((CUSTOM_PREFIX + key, column) for key, column in plan.custom.items())
        mapped = [*plan.fields.items(), *custom]
        unreadable = [
            (name, column)
            for name, column in mapped
            if _unreadable(raw.get(column), lists=name == "tags" or name.startswith(CUSTOM_PREFIX))
        ]
        for name, column in unreadable:
            value = json.dumps(raw[column], ensure_ascii=False)
            if name in ("contact_name", *NAME_PARTS, "email"):
                message = f"A {_json_kind(raw[column])} cannot be the lead's {name}."
                return raw, Issue(ERROR, draft.row, column, "value_invalid", message, _cut(value))
            message = f"A {_json_kind(raw[column])} is not a value of this field; left out."
            self._warn(draft, column, "value_invalid", message, value)
        if unreadable:
            raw = {k: v for k, v in raw.items() if k not in {c for _, c in unreadable}}
        return raw, None

    def _contact_name(self, draft: Draft, raw: dict, plan: Plan) -> Issue | None:
        column = plan.fields.get("contact_name")
        name = text(raw.get(column)) if column else ""
        if not name:
            # First and last name, as far as the file gives them.
            parts = [plan.fields[part] for part in NAME_PARTS if part in plan.fields]
            name = " ".join(filter(None, (text(raw.get(part)) for part in parts)))
            column = ", ".join(parts) or column or ""
        if not name:
            return Issue(ERROR, draft.row, column, "name_missing", "The row has no contact name.")
        limit = MAX_LENGTHS["contact_name"]
        if len(name) > limit:
            message = f"Longer than {limit} characters."
            return Issue(ERROR, draft.row, column, "name_too_long", message, _cut(name))
        draft.values["contact_name"] = name
        return None

    def _email(self, draft: Draft, raw: dict, plan: Plan) -> Issue | None:
        column = plan.fields.get("email")
        email = text(raw.get(column)) if column else ""
        if not email:
            return None
        if not _is_email(email):
            message = "The email address is not valid."
            return Issue(ERROR, draft.row, column, "email_invalid", message, _cut(email))
        draft.values["email"] = email
        return None

    def _plain_fields(self, draft: Draft, raw: dict, plan: Plan) -> None:
        for name in ("company_name", "website", "source", "external_id"):
            column = plan.fields.get(name)
            value = text(raw.get(column)) if column else ""
            if not value:
                continue
            if len(value) > MAX_LENGTHS[name]:
                message = f"Longer than {MAX_LENGTHS[name]} characters; left out."
                self._warn(draft, column, "value_too_long", message, value)
                continue
            draft.values[name] = value

    def _stage_owner_note(self, draft: Draft, raw: dict, plan: Plan) -> None:
        for name in ("stage", "owner"):
            if column := plan.fields.get(name):
                setattr(draft, name, text(raw.get(column)))
        column = plan.fields.get("notes")
        note = text(raw.get(column)) if column else ""
        if len(note) > ACTIVITY_TEXT_LIMIT:
            message = f"Notes are at most {ACTIVITY_TEXT_LIMIT} characters; left out."
            self._warn(draft, column, "value_too_long", message, note)
        else:
            draft.note = note

    def _phone(self, draft: Draft, raw: dict, plan: Plan) -> None:
        column = plan.fields.get("phone")
        value = text(raw.get(column)) if column else ""
        if not value:
            return
        normalized = normalize_phone(value, self.region)
        if normalized is None:
            self._warn(
                draft,
                column,
                "phone_invalid",
                f"Not a phone number that can be written in E.164 (region {self.region}); "
                "left out.",
                value,
            )
            return
        draft.values["phone"], draft.values["phone_extension"] = normalized

    def _tags(self, draft: Draft, raw: dict, plan: Plan) -> None:
        column = plan.fields.get("tags")
        value = raw.get(column) if column else None
        if not value:
            return
        items = value if isinstance(value, list) else text(value).split(",")
        tags = list(dict.fromkeys(tag for tag in map(tag_normalize, map(text, items)) if tag))
        for tag in tags:
            if len(tag) > MAX_TAG_LENGTH:
                message = f"Tags are at most {MAX_TAG_LENGTH} characters; left out."
                self._warn(draft, column, "tag_too_long", message, tag)
        tags = [tag for tag in tags if len(tag) <= MAX_TAG_LENGTH]
        if len(tags) > MAX_TAGS:
            message = f"A lead has at most {MAX_TAGS} tags; the others are left out."
            self._warn(draft, column, "too_many_tags", message, ", ".join(tags[MAX_TAGS:]))
            tags = tags[:MAX_TAGS]
        if tags:
            draft.values["tags"] = tags

    def _value(self, draft: Draft, raw: dict, plan: Plan) -> None:
        for name, in_cents in (("value_cents", True), ("value", False)):
            column = plan.fields.get(name)
            value = text(raw.get(column)) if column else ""
            if not value:
                continue
            cents = parse_cents(value, in_cents=in_cents)
            if cents is None:
                message = "Not an amount of zero or more; left out."
                self._warn(draft, column, "value_invalid", message, value)
                continue
            draft.values["value_cents"] = cents
            return

    def _custom_fields(self, draft: Draft, raw: dict, plan: Plan) -> None:
        for key, column in plan.custom.items():
            value = raw.get(column)
            if value in (None, "", []):
                continue
            try:
                draft.custom_fields[key] = custom_value(self.lead_fields[key], value)
            except (Invalid, KeyError) as problem:
                reason = str(problem) if isinstance(problem, Invalid) else "No such field."
                self._warn(
                    draft,
                    column,
                    "custom_value_invalid",
                    f"Not a value of the custom field {key!r} ({reason}); left out.",
                    text(value),
                )

    def _warn(self, draft: Draft, column: str, code: str, message: str, value: str) -> None:
        draft.warnings.append(Issue(WARNING, draft.row, column, code, message, _cut(value)))


def _unreadable(value, *, lists: bool) -> bool:
    """Whether a raw value is none of text, a number, nothing or (``lists``) a list of
    text and numbers."""
    if value is None or isinstance(value, str):
        return False
    if isinstance(value, bool | dict):
        return True
    if isinstance(value, list):
        return not lists or any(_unreadable(item, lists=False) for item in value)
    return not isinstance(value, int | float)


def _json_kind(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    return "JSON object" if isinstance(value, dict) else "list"


def _cut(value: str) -> str:
    return value[:ISSUE_VALUE_LENGTH]


def _is_email(value: str) -> bool:
    if len(value) > MAX_LENGTHS["email"]:
        return False
    try:
        _validate_email(value)
    except ValidationError:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def normalize_phone(raw: str, region: str) -> tuple[str, str] | None:
    """``(E.164 number, extension)``, or None when the text is no plausible number.

    Plausible means a possible length for its country, not an assigned range: real
    files are full of numbers in ranges that are not (yet) valid. Files repeat numbers
    (a switchboard, a placeholder): the last few thousand answers are kept.
    """
    value = raw.strip()
    # "001-307-..." dials out with the international prefix most countries use; a
    # region whose own prefix differs (the US dials 011) would read it as local digits.
    if value.startswith("00"):
        value = "+" + value[2:]
    return north_american_phone(value, region) or any_phone(value, region)


# phonenumbers takes about 50 µs to read a number; most numbers of North-American
# files are ten digits in the 3-3-4 groups below, which it always reads as +1 and those
# digits. A "1" without "+" is the national prefix only where the region dials +1;
# the US and Canada share the metadata that makes it so. Any other spelling goes
# through phonenumbers. tests/leads/test_imports_phones.py compares the two.
_PLUS_ONE_REGIONS = frozenset({"US", "CA"})
_TEN_DIGITS = re.compile(
    r"[ .-]?(?:\(([2-9][0-9]{2})\)|([2-9][0-9]{2}))[ .-]?([0-9]{3})[ .-]?([0-9]{4})"
    r"(?: *(?:x|ext\.?) *([0-9]{1,9}))?",
    re.IGNORECASE,
)


def north_american_phone(value: str, region: str) -> tuple[str, str] | None:
    """``any_phone`` for the common spellings above; None for any other."""
    if value.startswith("+1"):
        rest = value[2:]
    elif region in _PLUS_ONE_REGIONS:
        rest = value[1:] if value.startswith("1") else value
    else:
        return None
    match = _TEN_DIGITS.fullmatch(rest)
    if match is None:
        return None
    area, area_alone, exchange, line, extension = match.groups()
    return f"+1{area or area_alone}{exchange}{line}", extension or ""


def any_phone(value: str, region: str) -> tuple[str, str] | None:
    """``normalize_phone`` for any spelling, read by phonenumbers."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    extension = number.extension or ""
    if len(extension) > MAX_EXTENSION_LENGTH:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), extension


_CURRENCY_MARKS = str.maketrans("", "", "$€£¥ ,_")


def parse_cents(value: str, *, in_cents: bool) -> int | None:
    """An amount as integer cents; "1,234.50" and "$1234.5" are 123450."""
    try:
        amount = decimal.Decimal(value.translate(_CURRENCY_MARKS))
    except decimal.InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    cents = amount if in_cents else amount * 100
    if cents != cents.to_integral_value() or not 0 <= cents <= MAX_VALUE_CENTS:
        return None
    return int(cents)


def custom_value(definition, value):
    """A raw value of a file in the type of a custom field, checked by the lead rules.

    Raises ``Invalid`` (of ``leads.services``) when it does not fit.
    """
    kind = definition.type
    if kind == "number":
        value = value if isinstance(value, int | float) else _number(text(value))
    elif kind == "select":
        options = {option.casefold(): option for option in definition.options}
        value = options.get(text(value).casefold(), text(value))
    elif kind == "multi_select":
        options = {option.casefold(): option for option in definition.options}
        items = value if isinstance(value, list) else text(value).split(",")
        value = [options.get(text(item).casefold(), text(item)) for item in items if text(item)]
    else:
        value = text(value)
    return custom_value_check(definition, value)


def _number(value: str):
    try:
        number = decimal.Decimal(value.replace(",", ""))
    except decimal.InvalidOperation:
        raise Invalid("Must be a number.") from None
    if not number.is_finite():
        raise Invalid("Must be a number.")
    return int(number) if number == number.to_integral_value() else float(number)
