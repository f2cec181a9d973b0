"""Reading import files: encodings, separators, records and row numbers; phones and amounts."""

import io

import pytest

from leads.imports.mapping import Mapper
from leads.imports.normalize import normalize_phone, parse_cents
from leads.imports.reading import (
    CSV,
    JSONL,
    Record,
    TooManyRows,
    UnreadableFile,
    detect_layout,
    records,
    scan,
)
from tests.leads.import_files import HEADER, csv_bytes, jsonl_bytes, row, rows


def read(content: bytes, start: int = 1) -> list[Record]:
    binary = io.BytesIO(content)
    return list(records(binary, detect_layout(binary), start=start))


def names(found: list[Record]) -> list[str]:
    return [f"{r.values['First Name']} {r.values['Last Name']}" for r in found]


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16"), ("cp1252", "cp1252")],
)
def test_it_reads_each_common_encoding_of_a_spreadsheet(encoding, expected):
    content = csv_bytes(
        [row(1, **{"First Name": "Zoë", "Last Name": "Müller-Ibáñez"})], encoding=encoding
    )
    binary = io.BytesIO(content)

    layout = detect_layout(binary)
    found = list(records(binary, layout))

    assert layout.encoding == expected
    assert names(found) == ["Zoë Müller-Ibáñez"]
    assert list(found[0].values) == HEADER


def test_it_takes_a_file_that_is_not_utf8_as_windows_1252():
    # An en dash, curly quotes and the euro: the bytes Windows-1252 has where Latin-1 has none.
    note = "caf\u00e9 \u2013 \u201cquoted\u201d \u20ac5"
    content = csv_bytes([row(1, Notes=note)], encoding="cp1252")

    [record] = read(content)

    assert record.values["Notes"] == note


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_it_sniffs_the_separator(delimiter):
    content = csv_bytes(rows(30), delimiter=delimiter)
    binary = io.BytesIO(content)

    layout = detect_layout(binary)

    assert (layout.format, layout.delimiter) == (CSV, delimiter)
    assert [r.values["Index"] for r in records(binary, layout)] == [str(n) for n in range(1, 31)]


def test_it_sniffs_a_semicolon_file_whose_values_hold_commas():
    data = [row(n, Company="Mooney, Salinas and Ali", Notes="one, two, three") for n in (1, 2)]

    found = read(csv_bytes(data, delimiter=";"))

    assert [r.values["Company"] for r in found] == ["Mooney, Salinas and Ali"] * 2


def test_it_numbers_rows_as_a_spreadsheet_shows_them_across_quoted_newlines():
    data = [row(1), row(2, Notes="first line\nsecond line\r\nthird"), row(3)]

    found = read(csv_bytes(data))

    assert [r.row for r in found] == [1, 2, 3]
    assert found[1].values["Notes"] == "first line\nsecond line\r\nthird"


def test_it_skips_blank_rows_but_keeps_their_numbers():
    content = (
        csv_bytes([row(1)]) + b"\r\n,,,,,,,,,,,,,\r\n" + csv_bytes([row(4)]).split(b"\n", 1)[1]
    )

    found = read(content)

    assert [(r.row, r.values["Index"]) for r in found] == [(1, "1"), (4, "4")]


def test_it_yields_a_row_with_the_wrong_field_count_as_broken_and_reads_on():
    content = csv_bytes(rows(1)) + b"2,only,three\r\n" + csv_bytes([row(3)]).split(b"\n", 1)[1]

    found = read(content)

    assert [(r.row, r.values is None, r.problem) for r in found] == [
        (1, False, ""),
        (2, True, "The row has 3 fields; the header has 14."),
        (3, False, ""),
    ]


def test_it_reads_json_lines_and_reports_a_broken_line():
    content = jsonl_bytes([row(1)]) + b"{not json\n\n[1, 2]\n" + jsonl_bytes([row(5)])
    binary = io.BytesIO(content)

    layout = detect_layout(binary)
    found = list(records(binary, layout))

    assert layout.format == JSONL
    assert [(r.row, r.problem) for r in found] == [
        (1, ""),
        (2, "The line is not valid JSON."),
        (4, "The line is not a JSON object."),
        (5, ""),
    ]


def test_it_reports_a_json_line_nested_too_deep_to_parse_and_reads_on():
    deep = b'{"Name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    content = jsonl_bytes([row(1)]) + deep + jsonl_bytes([row(3)])

    found = read(content)

    assert [(r.row, r.problem) for r in found] == [
        (1, ""),
        (2, "The line is not valid JSON."),
        (3, ""),
    ]


def test_it_drops_nul_characters_from_every_value():
    csv_content = csv_bytes([row(1, **{"First Name": "Al\x00ice", "Notes": "a\x00\x00b"})])
    json_content = (
        b'{"First Name": "Al\\u0000ice", "Tags": ["v\\u0000ip"], "K\\u0000": 1}\n'
        b'{"First Name": "Back\\\\u0000slash"}\n'
    )

    [from_csv] = read(csv_content)
    from_json = [r.values for r in read(json_content)]

    assert (from_csv.values["First Name"], from_csv.values["Notes"]) == ("Alice", "ab")
    assert from_json == [
        {"First Name": "Alice", "Tags": ["vip"], "K": 1},
        {"First Name": "Back\\u0000slash"},
    ]


def test_it_starts_at_a_given_row_for_a_resumed_job():
    found = read(csv_bytes(rows(5)), start=4)

    assert [r.row for r in found] == [4, 5]


def test_it_counts_rows_and_stops_past_the_limit():
    binary = io.BytesIO(csv_bytes(rows(5)))
    layout = detect_layout(binary)

    assert scan(binary, layout, max_rows=5).rows == 5
    with pytest.raises(TooManyRows):
        scan(binary, layout, max_rows=4)


def test_it_collects_the_keys_of_every_json_line_as_columns():
    binary = io.BytesIO(jsonl_bytes([{"Name": "Ada"}, {"Name": "Bob", "Email": "b@example.com"}]))

    found = scan(binary, detect_layout(binary), max_rows=10)

    assert (found.rows, found.columns) == (2, ("Name", "Email"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"  \r\n", "The file is empty."),
        (b"PK\x03\x04rest-of-a-zip", "an Excel workbook"),
    ],
)
def test_it_refuses_a_file_it_cannot_read(content, message):
    with pytest.raises(UnreadableFile, match=message):
        detect_layout(io.BytesIO(content))


def test_it_maps_the_public_samples_columns_by_their_names():
    plan = Mapper(None, {}).plan(HEADER)

    assert plan.fields == {
        "external_id": "Account Id",
        "owner": "Lead Owner",
        "first_name": "First Name",
        "last_name": "Last Name",
        "company_name": "Company",
        "phone": "Phone 1",
        "email": "Email 1",
        "website": "Website",
        "source": "Source",
        "stage": "Deal Stage",
        "notes": "Notes",
    }


def test_it_lets_an_explicit_mapping_take_a_field_from_its_alias():
    plan = Mapper({"Email 2": "email", "Phone 1": None}, {"industry": "industry"}).plan(
        [*HEADER, "Industry"]
    )

    assert plan.fields["email"] == "Email 2"
    assert "phone" not in plan.fields
    assert plan.custom == {"industry": "Industry"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("9802005297", ("+19802005297", "")),
        ("369.329.6963", ("+13693296963", "")),
        ("917-584-0243x4606", ("+19175840243", "4606")),
        ("001-307-937-7505x54026", ("+13079377505", "54026")),
        ("(555)123-4567", ("+15551234567", "")),
        ("+44 20 7946 0958", ("+442079460958", "")),
        ("not a phone", None),
        ("123", None),
        ("555-1234x12345678901", None),
    ],
)
def test_it_normalizes_phones_of_plausible_length_to_e164(raw, expected):
    assert normalize_phone(raw, "US") == expected


@pytest.mark.parametrize(
    ("raw", "in_cents", "expected"),
    [
        ("1,234.50", False, 123450),
        ("$99", False, 9900),
        ("12345", True, 12345),
        ("12.5", True, None),
        ("-5", False, None),
        ("lots", False, None),
    ],
)
def test_it_reads_amounts_as_cents(raw, in_cents, expected):
    assert parse_cents(raw, in_cents=in_cents) == expected
