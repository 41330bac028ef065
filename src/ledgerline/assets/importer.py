"""Bulk import of assets from CSV: every row checked first, then all or (partial) some.

Columns (a header row names them; order free): name, category (a category's name),
acquisition_date, cost, currency are required; tag, serial_number, in_service_date,
salvage_value, useful_life_months, depreciation_method, convention, declining_rate and
total_units are optional, falling back to the category like a single creation. A row
whose tag exists already is skipped, so the same file can be imported twice.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
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
    categories = {c.name: c.id for c in await session.scalars(select(AssetCategory))}
    given_tags = [row["tag"].strip() for row in rows if row.get("tag")]
    existing = set(await session.scalars(select(Asset.tag).where(Asset.tag.in_(given_tags))))
    seen: set[str] = set()
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
        fields["category_id"] = categories[row.category]
        valid.append((line, fields))
    refuse_if_invalid(report, len(rows), partial=partial)
    for line, fields in valid:
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
