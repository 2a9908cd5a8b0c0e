"""Lead lists as CSV files: the header's columns and each row's values as `POST /leads` fields.

Pure: bytes in, columns and rows out. Rows are numbered as a spreadsheet shows them: the header
is row 1, the first data row row 2 (blank lines keep their number and are skipped).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any, Iterator

# The columns a row may have, each a field of POST /leads; `custom.<name>` fills custom fields.
FIELDS = ("email", "first_name", "last_name", "company", "title", "phone", "timezone", "country", "source",
          "source_detail", "owner", "cadence")
REQUIRED = ("email", "source")
CUSTOM_PREFIX = "custom."
MAX_ROWS = 100_000
MAX_COLUMNS = 200
DELIMITERS = ",;\t"


class FileProblem(ValueError):
    """The file as a whole cannot be imported (not CSV text, no header, a required column missing)."""


@dataclass(frozen=True)
class Column:
    header: str  # as written in the file
    field: str | None  # a lead field, "custom.<name>", or None: not imported


@dataclass
class Layout:
    columns: list[Column]
    delimiter: str
    warnings: list[str] = field(default_factory=list)

    @property
    def unknown(self) -> list[str]:
        return [c.header for c in self.columns if c.field is None]


@dataclass(frozen=True)
class Row:
    number: int
    values: dict[str, Any] | None  # POST /leads fields; None when the row is malformed
    problem: str | None = None


def _text(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileProblem(f"the file is not UTF-8 text (byte {exc.start}); save the CSV as UTF-8") from None


def _column(header: str) -> str | None:
    name = header.strip()
    lowered = name.lower()
    if lowered in FIELDS:
        return lowered
    if lowered.startswith(CUSTOM_PREFIX) and name[len(CUSTOM_PREFIX):].strip():
        return CUSTOM_PREFIX + name[len(CUSTOM_PREFIX):].strip()  # custom names keep their spelling
    return None


def _reader(text: str, delimiter: str) -> Iterator[list[str]]:
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)


def layout(content: bytes) -> Layout:
    """The header's columns; raises FileProblem when the file cannot be imported at all."""
    text = _text(content)
    first_line = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=first_line.count)  # "," unless the header uses ";" or tabs
    try:
        header = next(_reader(text, delimiter), None)
    except csv.Error as exc:
        raise FileProblem(f"the header row is not valid CSV: {exc}") from None
    if not header or not any(h.strip() for h in header):
        raise FileProblem("the file is empty: it needs a header row naming its columns, e.g. email,source")
    if len(header) > MAX_COLUMNS:
        raise FileProblem(f"the header has {len(header)} columns; at most {MAX_COLUMNS}")
    columns = [Column(h, _column(h)) for h in header]
    seen: dict[str, str] = {}
    for column in columns:
        if column.field is None:
            continue
        key = column.field.lower()
        if key in seen:
            raise FileProblem(f"the columns {seen[key]!r} and {column.header!r} name the same field")
        seen[key] = column.header
    missing = [name for name in REQUIRED if name not in seen]
    if missing:
        raise FileProblem(f"the header has no {' or '.join(repr(m) for m in missing)} column "
                          f"(columns: {', '.join(FIELDS)}, custom.<name>)")
    result = Layout(columns, delimiter)
    for header in result.unknown:
        result.warnings.append(f"the column {header!r} is not a lead field and is not imported "
                               f"(name custom fields custom.<name>)")
    return result


def rows(content: bytes, shape: Layout) -> Iterator[Row]:
    """Every data row, numbered; a row with more values than the header has columns is malformed.
    Raises FileProblem for broken CSV quoting or more than MAX_ROWS rows."""
    reader = _reader(_text(content), shape.delimiter)
    count = 0
    try:
        next(reader, None)  # the header
        for number, record in enumerate(reader, start=2):
            if not any(value.strip() for value in record):
                continue  # a blank line
            count += 1
            if count > MAX_ROWS:
                raise FileProblem(f"the file has more than {MAX_ROWS} rows; split it")
            if len(record) > len(shape.columns):
                yield Row(number, None, f"{len(record)} values where the header has {len(shape.columns)} columns")
                continue
            yield Row(number, _values(record, shape.columns))
    except csv.Error as exc:
        raise FileProblem(f"row {reader.line_num}: not valid CSV ({exc})") from None


def _values(record: list[str], columns: list[Column]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for column, raw in zip(columns, record):
        value = raw.strip()
        if column.field is None or not value:
            continue  # an empty cell is an absent field
        if column.field.startswith(CUSTOM_PREFIX):
            custom[column.field[len(CUSTOM_PREFIX):]] = value
        else:
            values[column.field] = value
    if custom:
        values["custom"] = custom
    return values


def count(content: bytes, shape: Layout) -> int:
    """How many data rows the file has (raises FileProblem like `rows`)."""
    return sum(1 for _ in rows(content, shape))


def email_key(values: dict[str, Any] | None) -> str | None:
    """The spelling duplicates are found by: the address as POST /leads normalises it."""
    email = (values or {}).get("email")
    return email.strip().lower() if isinstance(email, str) and email.strip() else None
