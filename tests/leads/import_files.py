"""Import files made for tests, in the shape of the public sample of real exports.

The sample's columns: Index, Account Id, Lead Owner, First Name, Last Name, Company,
Phone 1, Phone 2, Email 1, Email 2, Website, Source, Deal Stage, Notes; phones written
as ``9802005297``, ``917-584-0243x4606``, ``001-307-937-7505x54026`` or
``369.329.6963``. Everything here is deterministic: row ``n`` is always the same row.
"""

import csv
import io
import json

from django.core.files.uploadedfile import SimpleUploadedFile

HEADER = [
    "Index",
    "Account Id",
    "Lead Owner",
    "First Name",
    "Last Name",
    "Company",
    "Phone 1",
    "Phone 2",
    "Email 1",
    "Email 2",
    "Website",
    "Source",
    "Deal Stage",
    "Notes",
]
FIRST_NAMES = ["Jaime", "Cody", "Leonard", "Manuel", "Selena", "Kelsey", "Anne", "Darlene"]
LAST_NAMES = ["Hayes", "Salinas", "Rogers", "Lowery", "Doyle", "Mosley", "Franklin", "Hurst"]
COMPANIES = ["Mays Inc", "Blankenship Inc", "Wells-Burch", "Mooney, Salinas and Ali"]
SOURCES = ["LinkedIn Outreach", "Cold Call", "Referral", "Networking Event"]
# The first four are stages of the default pipeline (names compared without case).
STAGES = ["New Lead", "Qualified", "Negotiation", "Proposal Sent", "On Hold", "Re-engagement"]
# As written in the sample, and what each becomes with the US as the default region.
PHONES = [
    ("9802005297", "+19802005297", ""),
    ("917-584-0243x4606", "+19175840243", "4606"),
    ("001-307-937-7505x54026", "+13079377505", "54026"),
    ("369.329.6963", "+13693296963", ""),
    ("(548)320-4326x6724", "+15483204326", "6724"),
    ("+1-754-386-8611x687", "+17543868611", "687"),
]


def row(n: int, **overrides) -> dict:
    """Data row ``n`` (from 1) of a file, as column name to text."""
    first, last = FIRST_NAMES[n % len(FIRST_NAMES)], LAST_NAMES[n % len(LAST_NAMES)]
    values = {
        "Index": str(n),
        "Account Id": f"{n * 7919:08X}aC{n:05d}",
        "Lead Owner": f"{LAST_NAMES[(n + 3) % 8]} {FIRST_NAMES[(n + 5) % 8]}",
        "First Name": first,
        "Last Name": last,
        "Company": COMPANIES[n % len(COMPANIES)],
        "Phone 1": PHONES[n % len(PHONES)][0],
        "Phone 2": PHONES[(n + 1) % len(PHONES)][0],
        "Email 1": f"{first.lower()}.{last.lower()}{n}@example.com",
        "Email 2": f"{last.lower()}{n}@example.org",
        "Website": f"https://{last.lower()}{n}.example.com/",
        "Source": SOURCES[n % len(SOURCES)],
        "Deal Stage": STAGES[n % len(STAGES)],
        "Notes": f"Note {n}: partner school law vote.",
    }
    values.update(overrides)
    return values


def rows(count: int, start: int = 1) -> list[dict]:
    return [row(n) for n in range(start, start + count)]


def phone_of(n: int) -> tuple[str, str]:
    """The E.164 number and extension row ``n``'s ``Phone 1`` becomes."""
    return PHONES[n % len(PHONES)][1:]


def csv_bytes(
    data: list[dict],
    *,
    delimiter=",",
    encoding="utf-8",
    header=None,
    line_end="\r\n",
) -> bytes:
    """A CSV file of ``data``; ``encoding`` may be utf-8-sig, utf-16 or cp1252."""
    header = header or (list(data[0]) if data else HEADER)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(header)
    for values in data:
        writer.writerow([values.get(column, "") for column in header])
    return buffer.getvalue().encode(encoding)


def jsonl_bytes(data: list[dict]) -> bytes:
    return "".join(json.dumps(values) + "\n" for values in data).encode()


def uploaded(content: bytes, name: str = "leads.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")
