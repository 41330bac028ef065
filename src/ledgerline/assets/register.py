"""The asset register as of a date: per asset and per category, from stored schedules.

For each asset held on `as_of` (acquired by then, not disposed by then): cost (less the
improvements and revaluations dated after `as_of`), the accumulated depreciation at the
end of the month of `as_of`, the accumulated impairment by then, net book value, and the
depreciation charged from `period_start` (a month's first day) to `as_of`. Assets
disposed within the period are listed too (`held` false), with no cost or book value but
with the depreciation they were charged in the period and their gain (or loss, negative)
on disposal, so the period's totals are whole.
Two index probes per asset into `depreciation_entries` (primary key tenant, asset,
period); no engine run per request.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.csvfiles import cell
from ledgerline.db.engine import Database
from ledgerline.db.timeouts import allow_long_statements
from ledgerline.problems import Problem

_ROWS = """
    SELECT a.id, a.tag, a.name, a.category_id, c.name AS category, a.currency, a.status,
           held.held,
           CASE WHEN held.held THEN a.cost - coalesce(adj.cost_later, 0.00) ELSE 0.00 END
               AS cost,
           CASE WHEN held.held THEN coalesce(upto.accumulated, 0.00) ELSE 0.00 END
               AS accumulated,
           CASE WHEN held.held THEN coalesce(adj.impaired, 0.00) ELSE 0.00 END AS impaired,
           coalesce(upto.accumulated, 0.00) - coalesce(before.accumulated, 0.00) AS in_period,
           CASE WHEN held.held THEN NULL ELSE a.disposal_gain END AS disposal_gain
    FROM assets a
    CROSS JOIN LATERAL (
        SELECT a.disposed_on IS NULL OR a.disposed_on > :as_of AS held
    ) held
    LEFT JOIN LATERAL (
        SELECT sum(j.cost_change) FILTER (WHERE j.occurred_on > :as_of) AS cost_later,
               sum(j.impairment_change) FILTER (WHERE j.occurred_on <= :as_of) AS impaired
        FROM asset_adjustments j WHERE j.tenant_id = a.tenant_id AND j.asset_id = a.id
    ) adj ON true
    JOIN asset_categories c ON c.tenant_id = a.tenant_id AND c.id = a.category_id
    LEFT JOIN LATERAL (
        SELECT e.accumulated FROM depreciation_entries e
        WHERE e.tenant_id = a.tenant_id AND e.asset_id = a.id AND e.period <= :as_of
        ORDER BY e.period DESC LIMIT 1
    ) upto ON true
    LEFT JOIN LATERAL (
        SELECT e.accumulated FROM depreciation_entries e
        WHERE e.tenant_id = a.tenant_id AND e.asset_id = a.id AND e.period < :period_start
        ORDER BY e.period DESC LIMIT 1
    ) before ON true
    WHERE a.acquisition_date <= :as_of
      AND (a.disposed_on IS NULL OR a.disposed_on >= :period_start)
"""
_REGISTER = text(_ROWS + " ORDER BY a.tag")

# The whole JSON report, built by PostgreSQL: money as numeric text ("1250.00"), never
# a float, and 50,000 assets cost no Python objects.
_REGISTER_JSON = text(
    f"""
    WITH rows AS ({_ROWS}),
    categories AS (
        SELECT category_id, category, currency, count(*) AS assets, sum(cost) AS cost,
               sum(accumulated) AS accumulated, sum(impaired) AS impaired,
               sum(in_period) AS in_period, sum(disposal_gain) AS disposal_gain
        FROM rows GROUP BY category_id, category, currency
    ),
    totals AS (
        SELECT currency, sum(cost) AS cost, sum(accumulated) AS accumulated,
               sum(impaired) AS impaired, sum(in_period) AS in_period,
               sum(disposal_gain) AS disposal_gain
        FROM rows GROUP BY currency
    )
    SELECT json_build_object(
        'as_of', CAST(:as_of AS date),
        'period_start', CAST(:period_start AS date),
        'assets', coalesce((SELECT json_agg(json_build_object(
            'asset_id', id, 'tag', tag, 'name', name, 'category_id', category_id, 'held', held,
            'category', category, 'status', status, 'currency', currency,
            'cost', cost::text, 'accumulated_depreciation', accumulated::text,
            'accumulated_impairment', impaired::text,
            'net_book_value', (cost - accumulated - impaired)::text,
            'depreciation_in_period', in_period::text,
            'disposal_gain', disposal_gain::text) ORDER BY tag) FROM rows), '[]'),
        'categories', coalesce((SELECT json_agg(json_build_object(
            'category_id', category_id, 'category', category, 'currency', currency,
            'assets', assets, 'cost', cost::text,
            'accumulated_depreciation', accumulated::text,
            'accumulated_impairment', impaired::text,
            'net_book_value', (cost - accumulated - impaired)::text,
            'depreciation_in_period', in_period::text,
            'disposal_gain', coalesce(disposal_gain, 0.00)::text) ORDER BY category, currency)
            FROM categories), '[]'),
        'totals', coalesce((SELECT json_object_agg(currency, json_build_object(
            'cost', cost::text, 'accumulated_depreciation', accumulated::text,
            'accumulated_impairment', impaired::text,
            'net_book_value', (cost - accumulated - impaired)::text,
            'depreciation_in_period', in_period::text,
            'disposal_gain', coalesce(disposal_gain, 0.00)::text)) FROM totals), '{{}}')
    )::text
    """  # noqa: S608 - joins two constant SQL texts; no input is formatted
)

CSV_COLUMNS = (
    "tag",
    "name",
    "category",
    "status",
    "held",
    "currency",
    "cost",
    "accumulated_depreciation",
    "accumulated_impairment",
    "net_book_value",
    "depreciation_in_period",
    "disposal_gain",
)


def _parameters(as_of: date, period_start: date | None) -> dict[str, date]:
    """The query's dates: the period starts on its month's first day (a date stands for
    its month), on 1 January of `as_of` by default, and not after `as_of` (422)."""
    start = (period_start or as_of.replace(month=1)).replace(day=1)
    if start > as_of:
        raise Problem(422, "period_after_as_of", "period_start lies after as_of.")
    return {"as_of": as_of, "period_start": start}


def _row(record: Any) -> dict[str, Any]:
    return {
        "asset_id": str(record.id),
        "tag": record.tag,
        "name": record.name,
        "category_id": str(record.category_id),
        "category": record.category,
        "status": record.status,
        "held": record.held,
        "currency": record.currency,
        "cost": record.cost,
        "accumulated_depreciation": record.accumulated,
        "accumulated_impairment": record.impaired,
        "net_book_value": record.cost - record.accumulated - record.impaired,
        "depreciation_in_period": record.in_period,
        "disposal_gain": record.disposal_gain,
    }


async def register_json(session: AsyncSession, as_of: date, period_start: date | None) -> str:
    """Assets, per-category and per-currency totals, as one JSON document."""
    document: str = await session.scalar(_REGISTER_JSON, _parameters(as_of, period_start))
    return document


def register_csv(
    database: Database, tenant_id: UUID, as_of: date, period_start: date | None
) -> AsyncIterator[str]:
    """The register as CSV, streamed from a server-side cursor: constant memory.

    The dates are checked now, so a bad period is a 422 before any row is sent. The rows
    are read in their own transaction in the tenant: a streamed body is sent after the
    request's transaction has ended (the caller's permission was checked by then).
    """
    return _csv_rows(database, tenant_id, _parameters(as_of, period_start))


async def _csv_rows(
    database: Database, tenant_id: UUID, parameters: dict[str, date]
) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    async with database.tenant_transaction(tenant_id) as session:
        await allow_long_statements(session)
        result = await session.stream(_REGISTER, parameters)
        async for partition in result.partitions(1000):
            buffer.seek(0)
            buffer.truncate()
            for record in partition:
                row = _row(record)
                writer.writerow([cell(row[column]) for column in CSV_COLUMNS])
            yield buffer.getvalue()
