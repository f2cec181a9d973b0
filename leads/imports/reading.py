"""Reading an uploaded file as records, streaming, whatever its encoding and dialect.

Guarantees:
1. The file is never held in memory whole: every pass reads it in chunks or lines.
2. Encoding: a byte-order mark decides (UTF-8, UTF-16); otherwise the file is UTF-8
   when every byte of it decodes as UTF-8, else Windows-1252 (what spreadsheets on
   Windows save).
3. Format: JSON lines when the first character that is not blank is ``{``, else CSV
   whose separator (``,``, ``;`` or tab) is sniffed from a sample. Quoted fields may
   hold separators and newlines.
4. Row numbers are 1-based data rows, as a person sees them in a spreadsheet (or as
   lines of a JSON lines file): the header is not counted, a quoted newline does not
   start a row, and a blank row keeps its number though it yields nothing.
5. A broken record (a wrong field count, a line that is not a JSON object) is yielded
   with its problem, and reading goes on with the next one.
6. NUL characters, which PostgreSQL text cannot hold and no spreadsheet means, are
   dropped from every value.
"""

import codecs
import contextlib
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

CHUNK_BYTES = 256 * 1024
SAMPLE_CHARS = 32 * 1024
DELIMITERS = ",;\t"
CSV, JSONL = "csv", "jsonl"
# Spreadsheet and archive formats people upload by mistake, by their first bytes.
FOREIGN_SIGNATURES = {
    b"PK\x03\x04": "an Excel workbook or a zip archive",
    b"\xd0\xcf\x11\xe0": "an old Excel workbook",
    b"%PDF": "a PDF document",
}


class UnreadableFile(Exception):
    """The file as a whole cannot be read as CSV or JSON lines."""


class TooManyRows(Exception):
    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(limit)


@dataclass(frozen=True)
class Layout:
    format: str
    encoding: str
    delimiter: str = ","


@dataclass(frozen=True)
class Scan:
    """What a whole pass over the file found: its data rows and its column names."""

    rows: int
    columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Record:
    row: int
    # Column name to raw value; None for a broken record, which ``problem`` explains.
    values: dict[str, Any] | None
    problem: str = ""


def unwrapped(file):
    """The Python file object under Django's ``File`` wrappers, for io.TextIOWrapper."""
    while getattr(file, "file", None) is not None and file.file is not file:
        file = file.file
    return file


def detect_layout(binary) -> Layout:
    """The encoding, format and separator of a seekable binary file."""
    _refuse_foreign(binary)
    encoding = detect_encoding(binary)
    with _opened_text(binary, encoding) as text:
        sample = text.read(SAMPLE_CHARS)
    if not sample.strip():
        raise UnreadableFile("The file is empty.")
    if sample.lstrip().startswith("{"):
        return Layout(JSONL, encoding)
    return Layout(CSV, encoding, sniff_delimiter(sample))


def _refuse_foreign(binary) -> None:
    binary.seek(0)
    head = binary.read(8)
    binary.seek(0)
    for signature, what in FOREIGN_SIGNATURES.items():
        if head.startswith(signature):
            raise UnreadableFile(f"The file is {what}; save it as CSV (or JSON lines) first.")


def detect_encoding(binary) -> str:
    binary.seek(0)
    head = binary.read(4)
    binary.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := binary.read(CHUNK_BYTES):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    finally:
        binary.seek(0)
    return "utf-8"


def sniff_delimiter(sample: str) -> str:
    # A sample cut mid-row would look like a row with too few fields.
    last_newline = sample.rfind("\n")
    if last_newline > 0:
        sample = sample[:last_newline]
    header = sample.split("\n", 1)[0]
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        delimiter = ""
    if delimiter in header and delimiter:
        return delimiter
    # The sniffer gives up on a file of one row or of ragged rows: the header decides.
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


@contextlib.contextmanager
def _opened_text(binary, encoding: str):
    """The binary file decoded from its start; the binary file stays open after use."""
    binary.seek(0)
    # Windows-1252 leaves five bytes undefined; they become U+FFFD, not a failure.
    errors = "replace" if encoding == "cp1252" else "strict"
    text = io.TextIOWrapper(binary, encoding=encoding, errors=errors, newline="")
    try:
        yield text
    except UnicodeDecodeError as exc:
        # Only a file that announced its encoding by a BOM gets here: its BOM lied.
        raise UnreadableFile(f"The file is not valid {encoding.upper()} ({exc.reason}).") from None
    finally:
        # Detached, the wrapper does not close the storage's file when it is collected.
        text.detach()


def scan(binary, layout: Layout, max_rows: int) -> Scan:
    """Count the data rows and collect the column names; stop past ``max_rows``."""
    with _opened_text(binary, layout.encoding) as text:
        if layout.format == JSONL:
            return _scan_json_lines(text, max_rows)
        reader = csv.reader(_without_nul(text), delimiter=layout.delimiter)
        columns = _header(reader)
        rows = 0
        for _record in _csv_records(reader, columns, start=1):
            rows += 1
            if rows > max_rows:
                raise TooManyRows(max_rows)
        return Scan(rows, columns)


def _scan_json_lines(text, max_rows: int) -> Scan:
    rows, columns = 0, {}
    for record in _json_records(text, start=1):
        rows += 1
        if rows > max_rows:
            raise TooManyRows(max_rows)
        if record.values:
            columns.update(dict.fromkeys(record.values))
    return Scan(rows, tuple(columns))


def records(binary, layout: Layout, start: int = 1) -> Iterator[Record]:
    """The data rows from number ``start`` on, blank ones left out."""
    with _opened_text(binary, layout.encoding) as text:
        if layout.format == JSONL:
            yield from _json_records(text, start)
            return
        reader = csv.reader(_without_nul(text), delimiter=layout.delimiter)
        yield from _csv_records(reader, _header(reader), start)


def _without_nul(lines) -> Iterator[str]:
    for line in lines:
        yield line.replace("\x00", "") if "\x00" in line else line


def _header(reader) -> tuple[str, ...]:
    try:
        names = next(reader)
    except (StopIteration, csv.Error):
        raise UnreadableFile("The file has no header row.") from None
    seen: dict[str, int] = {}
    columns = []
    for raw in names:
        name = raw.strip().lstrip("\ufeff").strip()
        # Two columns of one name stay apart: the second becomes "Email (2)".
        seen[name] = seen.get(name, 0) + 1
        columns.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return tuple(columns)


def _csv_records(reader, columns: tuple[str, ...], start: int) -> Iterator[Record]:
    width = len(columns)
    row = 0
    while True:
        row += 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if row >= start:
                yield Record(row, None, f"The row cannot be read as CSV ({exc}).")
            continue
        if row < start or not any(field.strip() for field in fields):
            continue
        if len(fields) != width:
            yield Record(row, None, f"The row has {len(fields)} fields; the header has {width}.")
            continue
        yield Record(row, dict(zip(columns, fields, strict=True)))


def _json_records(text, start: int) -> Iterator[Record]:
    for row, line in enumerate(text, start=1):
        if row < start or not line.strip():
            continue
        try:
            values = json.loads(line)
        except (ValueError, RecursionError):
            yield Record(row, None, "The line is not valid JSON.")
            continue
        if not isinstance(values, dict):
            yield Record(row, None, "The line is not a JSON object.")
            continue
        # A NUL can only arrive escaped; its escape is the cheap test.
        yield Record(row, _drop_nul(values) if "\\u0000" in line else values)


def _drop_nul(value):
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_drop_nul(item) for item in value]
    if isinstance(value, dict):
        return {_drop_nul(key): _drop_nul(item) for key, item in value.items()}
    return value
