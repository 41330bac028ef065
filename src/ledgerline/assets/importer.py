"""Bulk import of assets from CSV: every row checked first, then all or (partial) some.

Columns (a header row names them; order free): name, category (a category's name),
acquisition_date, cost, currency are required; tag, serial_number, in_service_date,
salvage_value, useful_life_months, depreciation_method, convention, declining_rate and
total_units are optional, falling back to the category like a single creation.

Importing the same file twice creates nothing the second time: a row whose tag exists
already is skipped, and so is an untagged row imported before, known by its content key
(a hash of what the row says, and of how many identical rows came before it in the file:
two identical rows are two assets, once). Imports of one tenant run one at a time.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.assets import service
from ledgerline.assets.depreciation import Convention, DepreciationMethod
from ledgerline.assets.models import Asset, AssetCategory
from ledgerline.assets.schemas import ASSET_MONEY_DIGITS
from ledgerline.audit.service import AuditContext
from ledgerline.csvfiles import field_errors, read_rows, refuse_if_invalid, summary
from ledgerline.db.timeouts import allow_long_statements
from ledgerline.problems import Problem
from ledgerline.values import Currency, Day, Money, NonBlankStr, Quantity, Rate

MAX_ROWS = 2_000  # each row is a synchronous creation with its schedule
REQUIRED = ("name", "category", "acquisition_date", "cost", "currency")


class ImportRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tag: str | None = Field(default=None, max_length=40)
    name: NonBlankStr = Field(max_length=200)
    serial_number: str | None = Field(default=None, max_length=100)
    category: NonBlankStr = Field(max_length=100)
    acquisition_date: Day
    in_service_date: Day | None = None
    cost: Money = Field(max_digits=ASSET_MONEY_DIGITS, decimal_places=2)
    currency: Currency
    salvage_value: Money | None = Field(
        default=None, max_digits=ASSET_MONEY_DIGITS, decimal_places=2
    )
    useful_life_months: int | None = Field(default=None, ge=1, le=1200)
    depreciation_method: DepreciationMethod | None = None
    convention: Convention | None = None
    declining_rate: Rate | None = Field(default=None, gt=0)
    total_units: Quantity | None = Field(default=None, gt=0)


async def import_assets(
    session: AsyncSession, audit: AuditContext, text: str, *, partial: bool
) -> dict[str, Any]:
    rows = read_rows(text, required=REQUIRED, max_rows=MAX_ROWS)
    await allow_long_statements(session)
    # One import at a time per tenant: the same file sent twice at once must find what
    # the first one created, not race it into the unique keys.
    lock_key = func.hashtextextended(f"asset-import:{audit.tenant_id}", 0)
    await session.execute(select(func.pg_advisory_xact_lock(lock_key)))
    categories = {c.name: c for c in await session.scalars(select(AssetCategory))}
    given_tags = [row["tag"].strip() for row in rows if row.get("tag")]
    existing = set(await session.scalars(select(Asset.tag).where(Asset.tag.in_(given_tags))))
    seen: set[str] = set()
    occurrences: Counter[str] = Counter()
    report: list[dict[str, Any]] = []
    valid: list[tuple[int, dict[str, Any]]] = []
    for line, raw in enumerate(rows, start=2):  # line 1 is the header
        errors: list[str] = []
        try:
            row = ImportRow.model_validate(raw)
        except ValidationError as error:
            report.append({"line": line, "status": "failed", "errors": field_errors(error)})
            continue
        if row.category not in categories:
            errors.append(f"category: no category named {row.category!r}")
        elif not categories[row.category].is_active:
            errors.append(f"category: {row.category!r} is deactivated")
        if row.salvage_value is not None and row.salvage_value > row.cost:
            errors.append("salvage_value: exceeds the cost")
        if row.tag and row.tag in seen:
            errors.append(f"tag: {row.tag!r} appears twice in the file")
        if errors:
            report.append({"line": line, "status": "failed", "errors": errors})
            continue
        if row.tag:
            seen.add(row.tag)
            if row.tag in existing:
                report.append(
                    {
                        "line": line,
                        "status": "skipped",
                        "tag": row.tag,
                        "reason": "an asset with this tag exists",
                    }
                )
                continue
        fields = row.model_dump(exclude_none=True, exclude={"category"})
        fields["category_id"] = categories[row.category].id
        if not row.tag:
            content = content_of(row)
            occurrences[content] += 1
            fields["content_key"] = content_key(content, occurrences[content])
        valid.append((line, fields))
    refuse_if_invalid(report, len(rows), partial=partial)
    imported_before = await _imported(
        session, [f["content_key"] for _, f in valid if not f.get("tag")]
    )
    for line, fields in valid:
        if (tag := imported_before.get(fields.get("content_key", ""))) is not None:
            report.append(
                {"line": line, "status": "skipped", "tag": tag, "reason": "imported before"}
            )
            continue
        try:
            asset = await service.create_asset(session, audit, **fields)
        except Problem as problem:
            report.append({"line": line, "status": "failed", "errors": [problem.detail]})
            if not partial:
                raise
            continue
        report.append(
            {"line": line, "status": "imported", "tag": asset.tag, "asset_id": str(asset.id)}
        )
    return summary(report)


def content_of(row: ImportRow) -> str:
    """What an untagged row says, in one canonical form: `1000`, `1000.0` and `1000.00`
    are one cost, and blank optional columns are absent."""
    values = {
        name: format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)
        for name, value in row.model_dump(exclude_none=True, exclude={"tag"}).items()
    }
    return json.dumps(values, sort_keys=True)


def content_key(content: str, occurrence: int) -> str:
    """The key of the `occurrence`-th row of a file with this content."""
    return hashlib.sha256(f"{occurrence}:{content}".encode()).hexdigest()


async def _imported(session: AsyncSession, keys: list[str]) -> dict[str, str]:
    """content key -> tag of the assets imported before under these keys."""
    if not keys:
        return {}
    found = await session.execute(
        select(Asset.content_key, Asset.tag).where(Asset.content_key.in_(keys))
    )
    return {key: tag for key, tag in found if key is not None}
