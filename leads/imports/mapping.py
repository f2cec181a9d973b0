"""Which column of a file fills which field of a lead.

A column is mapped by the client's explicit ``mapping`` first, then by the aliases
below, compared without case, spaces or punctuation ("E-mail 1" is "email1"), then to
the custom field whose key or label it names. Any other column is ignored. When two
columns claim one field, the first one in the file keeps it.
"""

from dataclasses import dataclass, field

CUSTOM_PREFIX = "custom_fields."
MAX_PLANS = 256

FIELDS = (
    "contact_name",
    "first_name",
    "last_name",
    "company_name",
    "email",
    "phone",
    "website",
    "source",
    "stage",
    "owner",
    "external_id",
    "notes",
    "tags",
    "value",
    "value_cents",
)
NAME_FIELDS = ("contact_name", "first_name", "last_name")

_ALIASES = {
    "contact_name": ["Name", "Contact", "Contact Name", "Full Name", "Lead Name"],
    "first_name": ["First Name", "Given Name", "First"],
    "last_name": ["Last Name", "Surname", "Family Name", "Last"],
    "company_name": ["Company", "Company Name", "Organization", "Account Name"],
    "email": ["Email", "Email 1", "Email Address", "E-mail"],
    "phone": ["Phone", "Phone 1", "Phone Number", "Telephone", "Mobile"],
    "website": ["Website", "Web Site", "URL"],
    "source": ["Source", "Lead Source"],
    "stage": ["Stage", "Deal Stage", "Lead Stage", "Status"],
    "owner": ["Owner", "Lead Owner", "Assigned To"],
    "external_id": ["External Id", "Account Id", "Id"],
    "notes": ["Notes", "Note", "Comments"],
    "tags": ["Tags", "Labels"],
    "value": ["Value", "Deal Value", "Amount"],
    "value_cents": ["Value Cents"],
}


def fold(name: str) -> str:
    """A column name as aliases compare it: no case, no spaces, no punctuation."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


ALIASES = {fold(alias): target for target, names in _ALIASES.items() for alias in names}
ALIASES.update({fold(target): target for target in FIELDS})


def custom_keys(definitions) -> dict[str, str]:
    """Each custom field's folded label and key, to its key; a key wins over a label."""
    keys = {}
    for key, label in definitions:
        keys.setdefault(fold(label), key)
    keys.update({fold(key): key for key, _ in definitions})
    return keys


@dataclass(frozen=True)
class Plan:
    """Field (or custom field key) to the column that fills it, for one set of columns."""

    fields: dict[str, str] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)

    @property
    def has_name(self) -> bool:
        return any(name in self.fields for name in NAME_FIELDS)

    def targets(self, columns) -> list[dict]:
        """Each column with the field it fills (``custom_fields.<key>`` for a custom
        one), or None for a column the import ignores; in the file's order."""
        targets = {column: name for name, column in self.fields.items()}
        targets.update((column, CUSTOM_PREFIX + key) for key, column in self.custom.items())
        return [{"column": column, "field": targets.get(column)} for column in columns]


class Mapper:
    """Builds the plan of each set of columns seen (one for a CSV file), once."""

    def __init__(self, explicit: dict | None, custom_keys: dict[str, str]):
        """``custom_keys``: folded key or label of each custom field to its key."""
        self.explicit = explicit or {}
        self.custom_keys = custom_keys
        self._plans: dict[tuple, Plan] = {}

    def plan(self, columns) -> Plan:
        columns = tuple(columns)
        plan = self._plans.get(columns)
        if plan is None:
            # JSON lines may vary their keys from line to line: keep the cache bounded.
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            plan = self._plans[columns] = self._build(columns)
        return plan

    def _build(self, columns: tuple) -> Plan:
        fields, custom = {}, {}
        claimed = {target for target in self.explicit.values() if target}
        for column in columns:
            if column in self.explicit:
                target = self.explicit[column]
            else:
                target = self._implicit(column)
                if target in claimed:
                    continue
            if not target:
                continue
            claimed.add(target)
            if target.startswith(CUSTOM_PREFIX):
                custom.setdefault(target.removeprefix(CUSTOM_PREFIX), column)
            else:
                fields.setdefault(target, column)
        return Plan(fields, custom)

    def _implicit(self, column: str) -> str | None:
        folded = fold(column)
        if folded in ALIASES:
            return ALIASES[folded]
        key = self.custom_keys.get(folded)
        return CUSTOM_PREFIX + key if key else None


def mapping_problems(explicit: dict, columns, custom_keys) -> list[dict]:
    """What is wrong with a client's mapping for these columns, as validation details."""
    problems = []
    known_columns = set(columns)
    targets: dict[str, str] = {}
    for column, target in explicit.items():
        if column not in known_columns:
            problems.append(_problem(column, "unknown_column", "The file has no such column."))
            continue
        if target in (None, ""):
            continue
        if not isinstance(target, str) or not _is_target(target, custom_keys):
            problems.append(
                _problem(
                    column,
                    "unknown_field",
                    f"Map to one of {', '.join(FIELDS)}, to custom_fields.<key> of a custom "
                    "field, or to null to ignore the column.",
                )
            )
        elif target in targets:
            problems.append(
                _problem(column, "mapped_twice", f"Column {targets[target]!r} maps there too.")
            )
        else:
            targets[target] = column
    return problems


def _is_target(target: str, custom_keys) -> bool:
    if target.startswith(CUSTOM_PREFIX):
        return target.removeprefix(CUSTOM_PREFIX) in set(custom_keys.values())
    return target in FIELDS


def _problem(column: str, code: str, message: str) -> dict:
    return {"field": f"mapping.{column}", "code": code, "message": message}
