"""CSV in and out, as every import and export of the API does it.

Imports: UTF-8 (a BOM is fine), a header row naming the columns in any order, empty
cells read as absent; every row is checked before anything is written, and the answer
is a per-row report. Nothing is imported when a row is invalid, unless `partial=true`.
Exports quote text that a spreadsheet would run as a formula (`'=...`); imports read
such a cell back as the text it was.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, ValidationError

from ledgerline.problems import Problem


def decode(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Problem(422, "csv_not_utf8", "The CSV must be UTF-8.") from error


def read_rows(text: str, *, required: Sequence[str], max_rows: int) -> list[dict[str, str]]:
    """The data rows as dicts (empty cells left out); 422 for an unreadable file."""
    if "\x00" in text:
        raise Problem(422, "csv_invalid", "The CSV contains NUL characters.")
    try:
        reader = csv.DictReader(io.StringIO(text))
        missing = [column for column in required if column not in (reader.fieldnames or [])]
        if missing:
            raise Problem(
                422, "csv_columns_missing", f"The CSV lacks columns: {', '.join(missing)}."
            )
        rows: list[dict[str, str]] = []
        for row in reader:
            if len(rows) == max_rows:
                raise Problem(422, "csv_too_many_rows", f"At most {max_rows} rows per import.")
            rows.append(
                {k: _unquote(v) for k, v in row.items() if k is not None and v not in (None, "")}
            )
    except csv.Error as error:
        raise Problem(422, "csv_invalid", f"The CSV cannot be read: {error}.") from error
    return rows


def field_errors(error: ValidationError) -> list[str]:
    return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]


def refuse_if_invalid(report: list[dict[str, Any]], total_rows: int, *, partial: bool) -> None:
    """422 with the failed rows, unless the caller asked for a partial import."""
    failed = [entry for entry in report if entry["status"] == "failed"]
    if failed and not partial:
        raise Problem(
            422,
            "csv_rows_invalid",
            f"{len(failed)} of {total_rows} rows are invalid; nothing was imported"
            " (send ?partial=true to import the valid rows).",
            extra={"rows": sorted(failed, key=lambda entry: entry["line"])},
        )


def summary(report: list[dict[str, Any]]) -> dict[str, Any]:
    report.sort(key=lambda entry: entry["line"])
    counts = {
        status: sum(1 for e in report if e["status"] == status)
        for status in ("imported", "skipped", "failed")
    }
    return {**counts, "rows": report}


class ImportedRow(BaseModel):
    """What became of one data row (members that do not apply are left out)."""

    line: int = Field(description="The row's line in the file (the header is line 1).")
    status: Literal["imported", "skipped", "failed"]
    errors: list[str] | None = Field(default=None, description="Why a row failed.")
    reason: str | None = Field(default=None, description="Why a row was skipped.")
    invoice_id: UUID | None = None
    asset_id: UUID | None = None
    tag: str | None = Field(default=None, description="An asset's tag.")


class ImportReport(BaseModel):
    """How many rows were imported, skipped and failed, and each row's outcome."""

    imported: int
    skipped: int
    failed: int
    rows: list[ImportedRow]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> object:
    """A value as a CSV cell: money and quantities as plain decimals, booleans as `true`
    and `false` (as JSON and the query parameters say them), dates ISO, and text that a
    spreadsheet would run as a formula quoted with a leading apostrophe."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def _unquote(value: str) -> str:
    """The text an exported cell quoted (see `cell`)."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


def csv_chunk(rows: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return buffer.getvalue()
