"""Dashboard endpoints: each view as JSON and as CSV with the same rows and columns.

Each endpoint makes one `service` call and translates the answer to HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

from ledgerline import csvfiles
from ledgerline.access import TenantRequest, tenant_request
from ledgerline.dashboard import service
from ledgerline.dashboard.repository import Scope
from ledgerline.dashboard.schemas import (
    CASH_CSV_COLUMNS,
    AgingOut,
    AgingRow,
    AssetsOut,
    AssetsRow,
    CashAccountRow,
    CashCsvLine,
    CashOut,
    CashWeekRow,
    ProcessingOut,
    ProcessingRow,
    ScopeOut,
    SummaryOut,
    SummaryRow,
    VendorRow,
    VendorsOut,
)
from ledgerline.security.permissions import Permission
from ledgerline.values import Currency, Day

router = APIRouter(tags=["dashboard"])

Read = Annotated[TenantRequest, tenant_request(Permission.DASHBOARD_READ)]


def dashboard_scope(
    from_day: Annotated[
        Day | None, Query(alias="from", description="first day of the range (inclusive)")
    ] = None,
    to_day: Annotated[
        Day | None, Query(alias="to", description="last day of the range (inclusive)")
    ] = None,
    currency: Annotated[Currency | None, Query(description="only this currency")] = None,
    as_of: Annotated[
        Day | None, Query(description="the day figures are taken on; default today (UTC)")
    ] = None,
) -> Scope:
    return service.scope(from_day, to_day, currency, as_of)


Scoped = Annotated[Scope, Depends(dashboard_scope)]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}


def _scope_out(scope: Scope) -> ScopeOut:
    return ScopeOut(
        from_day=scope.from_day, to_day=scope.to_day, currency=scope.currency, as_of=scope.as_of
    )


def _csv(name: str, scope: Scope, columns: Sequence[str], rows: Sequence[BaseModel]) -> Response:
    """The rows as a CSV file, one column per field, named as in the JSON."""
    lines = [list(columns)] + [[getattr(row, column, None) for column in columns] for row in rows]
    return Response(
        csvfiles.csv_chunk(lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{scope.as_of}.csv"'},
    )


@router.get("/dashboard/summary", operation_id="dashboard_summary")
async def summary(context: Read, scope: Scoped) -> SummaryOut:
    """Per currency: invoice counts and amounts by status, overdue count and amount,
    approval rate, median submit-to-approve hours, payments in the range, and days payable
    outstanding (definitions in the README)."""
    rows = await service.summary(context.session, scope)
    return SummaryOut(scope=_scope_out(scope), rows=[SummaryRow.model_validate(r) for r in rows])


@router.get(
    "/dashboard/summary.csv",
    operation_id="dashboard_summary_csv",
    response_class=Response,
    responses=CSV_RESPONSE,
)
async def summary_csv(context: Read, scope: Scoped) -> Response:
    """The summary as CSV: one row per currency."""
    rows = await service.summary(context.session, scope)
    out = [SummaryRow.model_validate(r) for r in rows]
    return _csv("dashboard-summary", scope, list(SummaryRow.model_fields), out)


@router.get("/dashboard/aging", operation_id="dashboard_aging")
async def aging(context: Read, scope: Scoped) -> AgingOut:
    """Open amounts of approved invoices by days past due on `as_of` (current, 1-30,
    31-60, 61-90, over 90), per vendor and per currency in total (`vendor_id` null)."""
    rows = await service.aging(context.session, scope)
    return AgingOut(scope=_scope_out(scope), rows=[AgingRow.model_validate(r) for r in rows])


@router.get(
    "/dashboard/aging.csv",
    operation_id="dashboard_aging_csv",
    response_class=Response,
    responses=CSV_RESPONSE,
)
async def aging_csv(context: Read, scope: Scoped) -> Response:
    """The aging as CSV: one row per vendor and currency, then each currency's total."""
    rows = [AgingRow.model_validate(r) for r in await service.aging(context.session, scope)]
    return _csv("dashboard-aging", scope, list(AgingRow.model_fields), rows)


@router.get("/dashboard/vendors", operation_id="dashboard_vendors")
async def vendors(context: Read, scope: Scoped) -> VendorsOut:
    """Per vendor and currency: invoices, totals, open and overdue amounts, and a risk score
    (0-100) from overdue ratio, rejection rate, duplicates flagged and missing data."""
    rows = await service.vendors(context.session, scope)
    return VendorsOut(scope=_scope_out(scope), rows=[VendorRow.model_validate(r) for r in rows])


@router.get(
    "/dashboard/vendors.csv",
    operation_id="dashboard_vendors_csv",
    response_class=Response,
    responses=CSV_RESPONSE,
)
async def vendors_csv(context: Read, scope: Scoped) -> Response:
    """The vendors view as CSV: one row per vendor and currency."""
    rows = [VendorRow.model_validate(r) for r in await service.vendors(context.session, scope)]
    return _csv("dashboard-vendors", scope, list(VendorRow.model_fields), rows)


@router.get("/dashboard/processing", operation_id="dashboard_processing")
async def processing(context: Read, scope: Scoped) -> ProcessingOut:
    """Documents uploaded in the window (`from` to `to`, default the 7 days up to `as_of`):
    counts by outcome, documents read per hour, reading latency p50/p90/p99."""
    row = ProcessingRow.model_validate(await service.processing(context.session, scope))
    return ProcessingOut(scope=_scope_out(scope), rows=[row])


@router.get(
    "/dashboard/processing.csv",
    operation_id="dashboard_processing_csv",
    response_class=Response,
    responses=CSV_RESPONSE,
)
async def processing_csv(context: Read, scope: Scoped) -> Response:
    """The processing view as CSV: one row."""
    row = ProcessingRow.model_validate(await service.processing(context.session, scope))
    return _csv("dashboard-processing", scope, list(ProcessingRow.model_fields), [row])


@router.get("/dashboard/assets", operation_id="dashboard_assets")
async def assets(context: Read, scope: Scoped) -> AssetsOut:
    """Per category and currency, for assets held on `as_of` (acquired in the range, if
    one is given): cost, accumulated depreciation, net book value, and the depreciation of
    `as_of`'s month and year."""
    rows = await service.assets(context.session, scope)
    return AssetsOut(scope=_scope_out(scope), rows=[AssetsRow.model_validate(r) for r in rows])


@router.get(
    "/dashboard/assets.csv",
    operation_id="dashboard_assets_csv",
    response_class=Response,
    responses=CSV_RESPONSE,
)
async def assets_csv(context: Read, scope: Scoped) -> Response:
    """The assets view as CSV: one row per category and currency."""
    rows = [AssetsRow.model_validate(r) for r in await service.assets(context.session, scope)]
    return _csv("dashboard-assets", scope, list(AssetsRow.model_fields), rows)


@router.get("/dashboard/cash", operation_id="dashboard_cash")
async def cash(context: Read, scope: Scoped) -> CashOut:
    """Ledger balances of the asset accounts on `as_of`, and by week (`from`, default
    `as_of`, to `to`, default 12 weeks on) the scheduled payments of approved invoices and
    the settlements of accepted financing offers."""
    found = await service.cash(context.session, scope)
    return CashOut(
        scope=_scope_out(scope),
        accounts=[CashAccountRow.model_validate(r) for r in found.accounts],
        weeks=[CashWeekRow.model_validate(r) for r in found.weeks],
    )


@router.get(
    "/dashboard/cash.csv",
    operation_id="dashboard_cash_csv",
    response_class=Response,
    responses=CSV_RESPONSE,
)
async def cash_csv(context: Read, scope: Scoped) -> Response:
    """The cash view as CSV: the accounts (`section` account), then the weeks (week)."""
    found = await service.cash(context.session, scope)
    lines = [
        CashCsvLine(section="account", **CashAccountRow.model_validate(r).model_dump())
        for r in found.accounts
    ] + [
        CashCsvLine(section="week", **CashWeekRow.model_validate(r).model_dump())
        for r in found.weeks
    ]
    return _csv("dashboard-cash", scope, CASH_CSV_COLUMNS, lines)
