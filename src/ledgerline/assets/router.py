"""Fixed-asset endpoints: categories, locations, custodians (created, read, updated and
deactivated with If-Match); assets and their register, CSV import, transfers,
maintenance, disposal, depreciation schedule and usage.

Each endpoint makes one call into `service` (or `register`, `importer`) that does its
whole step and translates the answer to HTTP. Every change of an asset (edit, delete,
transfer, maintenance opened or closed, disposal) takes If-Match with the asset's ETag.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from ledgerline import csvfiles
from ledgerline.access import TenantRequest, tenant_request
from ledgerline.assets import accounting, importer, register, rollforward, scheduled, service
from ledgerline.assets.models import Asset, AssetCategory, AssetStatus, Custodian, Location
from ledgerline.assets.schemas import (
    AdjustmentCreate,
    AdjustmentOut,
    AssetCreate,
    AssetOut,
    AssetRegister,
    AssetUpdate,
    BookValue,
    Capitalization,
    CategoryCreate,
    CategoryOut,
    CategoryUpdate,
    CustodianCreate,
    CustodianOut,
    CustodianUpdate,
    DepreciationRunCreate,
    DepreciationRunOut,
    DepreciationScheduleIn,
    DepreciationScheduleOut,
    Disposal,
    EventOut,
    LocationCreate,
    LocationOut,
    LocationUpdate,
    MaintenanceClose,
    MaintenanceCreate,
    MaintenanceOut,
    PostedEntry,
    RollForward,
    ScheduleRowOut,
    Transfer,
    Usage,
)
from ledgerline.csvfiles import ImportReport
from ledgerline.deps import DatabaseDep
from ledgerline.etags import IfMatch, sent_if_match, set_etag
from ledgerline.idempotency import IdempotentRoute
from ledgerline.pagination import Page, PageRequest, page_request
from ledgerline.responses import json_with_etag
from ledgerline.security.permissions import Permission
from ledgerline.values import Day

router = APIRouter(tags=["assets"], route_class=IdempotentRoute)

Read = Annotated[TenantRequest, tenant_request(Permission.ASSETS_READ)]
Write = Annotated[TenantRequest, tenant_request(Permission.ASSETS_WRITE)]
Create = Annotated[TenantRequest, tenant_request(Permission.ASSETS_WRITE, idempotent=True)]
Delete = Annotated[TenantRequest, tenant_request(Permission.ASSETS_DELETE)]
Dispose = Annotated[TenantRequest, tenant_request(Permission.ASSETS_DISPOSE, idempotent=True)]
Posts = Annotated[TenantRequest, tenant_request(Permission.ASSETS_POST, idempotent=True)]
Paging = Annotated[PageRequest, Depends(page_request)]


def _versioned(row: service.Reference, response: Response) -> service.Reference:
    set_etag(response, row.version)
    return row


@router.post("/asset-categories", operation_id="create_asset_category", status_code=201)
async def create_category(body: CategoryCreate, context: Create, response: Response) -> CategoryOut:
    """A category: the defaults (method, useful life, salvage) new assets take."""
    category = await service.create_category(
        context.session, context.audit_context, **body.model_dump()
    )
    return CategoryOut.model_validate(_versioned(category, response))


@router.get("/asset-categories", operation_id="list_asset_categories")
async def list_categories(
    context: Read, page: Paging, is_active: bool | None = None
) -> Page[CategoryOut]:
    rows, cursor = await service.list_categories(context.session, page, is_active=is_active)
    """The tenant's asset categories, newest first."""
    return Page(items=[CategoryOut.model_validate(c) for c in rows], next_cursor=cursor)


@router.get("/asset-categories/{category_id}", operation_id="get_asset_category")
async def get_category(category_id: UUID, context: Read, response: Response) -> CategoryOut:
    category = await service.get_reference(context.session, AssetCategory, category_id)
    return CategoryOut.model_validate(_versioned(category, response))


@router.patch("/asset-categories/{category_id}", operation_id="update_asset_category")
async def update_category(
    category_id: UUID,
    body: CategoryUpdate,
    context: Write,
    response: Response,
    if_match: IfMatch = None,
) -> CategoryOut:
    """New defaults for assets created from now on. Takes If-Match."""
    category = await service.update_category(
        context.session,
        context.audit_context,
        category_id,
        body.model_dump(exclude_unset=True),
        if_match=sent_if_match(if_match),
    )
    return CategoryOut.model_validate(_versioned(category, response))


@router.delete(
    "/asset-categories/{category_id}", operation_id="deactivate_asset_category", status_code=204
)
async def deactivate_category(
    category_id: UUID, context: Delete, if_match: IfMatch = None
) -> Response:
    """Deactivates: its assets keep it, new assets cannot take it. Takes If-Match."""
    await service.deactivate_reference(
        context.session,
        context.audit_context,
        AssetCategory,
        category_id,
        if_match=sent_if_match(if_match),
    )
    return Response(status_code=204)


@router.post("/locations", operation_id="create_location", status_code=201)
async def create_location(body: LocationCreate, context: Create, response: Response) -> LocationOut:
    """A place: a site, a building in a site, or a room in a building."""
    location = await service.create_location(
        context.session, context.audit_context, **body.model_dump()
    )
    return LocationOut.model_validate(_versioned(location, response))


@router.get("/locations", operation_id="list_locations")
async def list_locations(
    context: Read, page: Paging, parent_id: UUID | None = None, is_active: bool | None = None
) -> Page[LocationOut]:
    """The tenant's locations, newest first; `parent_id` lists what one contains."""
    rows, cursor = await service.list_locations(
        context.session, page, parent_id=parent_id, is_active=is_active
    )
    return Page(items=[LocationOut.model_validate(x) for x in rows], next_cursor=cursor)


@router.get("/locations/{location_id}", operation_id="get_location")
async def get_location(location_id: UUID, context: Read, response: Response) -> LocationOut:
    location = await service.get_reference(context.session, Location, location_id)
    return LocationOut.model_validate(_versioned(location, response))


@router.patch("/locations/{location_id}", operation_id="update_location")
async def update_location(
    location_id: UUID,
    body: LocationUpdate,
    context: Write,
    response: Response,
    if_match: IfMatch = None,
) -> LocationOut:
    """A new name or parent. Takes If-Match."""
    location = await service.update_location(
        context.session,
        context.audit_context,
        location_id,
        body.model_dump(exclude_unset=True),
        if_match=sent_if_match(if_match),
    )
    return LocationOut.model_validate(_versioned(location, response))


@router.delete("/locations/{location_id}", operation_id="deactivate_location", status_code=204)
async def deactivate_location(
    location_id: UUID, context: Delete, if_match: IfMatch = None
) -> Response:
    """Deactivates: assets there stay, none can move in, no location can be added inside.
    Active locations inside it must be deactivated first (409). Takes If-Match."""
    await service.deactivate_reference(
        context.session,
        context.audit_context,
        Location,
        location_id,
        if_match=sent_if_match(if_match),
    )
    return Response(status_code=204)


@router.post("/custodians", operation_id="create_custodian", status_code=201)
async def create_custodian(
    body: CustodianCreate, context: Create, response: Response
) -> CustodianOut:
    """A person or team who holds assets."""
    custodian = await service.create_custodian(
        context.session, context.audit_context, **body.model_dump()
    )
    return CustodianOut.model_validate(_versioned(custodian, response))


@router.get("/custodians", operation_id="list_custodians")
async def list_custodians(
    context: Read, page: Paging, is_active: bool | None = None
) -> Page[CustodianOut]:
    rows, cursor = await service.list_custodians(context.session, page, is_active=is_active)
    """The tenant's custodians, newest first."""
    return Page(items=[CustodianOut.model_validate(x) for x in rows], next_cursor=cursor)


@router.get("/custodians/{custodian_id}", operation_id="get_custodian")
async def get_custodian(custodian_id: UUID, context: Read, response: Response) -> CustodianOut:
    custodian = await service.get_reference(context.session, Custodian, custodian_id)
    return CustodianOut.model_validate(_versioned(custodian, response))


@router.patch("/custodians/{custodian_id}", operation_id="update_custodian")
async def update_custodian(
    custodian_id: UUID,
    body: CustodianUpdate,
    context: Write,
    response: Response,
    if_match: IfMatch = None,
) -> CustodianOut:
    """A new name or contact. Takes If-Match."""
    custodian = await service.update_custodian(
        context.session,
        context.audit_context,
        custodian_id,
        body.model_dump(exclude_unset=True),
        if_match=sent_if_match(if_match),
    )
    return CustodianOut.model_validate(_versioned(custodian, response))


@router.delete("/custodians/{custodian_id}", operation_id="deactivate_custodian", status_code=204)
async def deactivate_custodian(
    custodian_id: UUID, context: Delete, if_match: IfMatch = None
) -> Response:
    """Deactivates: they keep what they hold and get nothing new. Takes If-Match."""
    await service.deactivate_reference(
        context.session,
        context.audit_context,
        Custodian,
        custodian_id,
        if_match=sent_if_match(if_match),
    )
    return Response(status_code=204)


def _out(asset: Asset, response: Response) -> AssetOut:
    set_etag(response, asset.version)
    return AssetOut.model_validate(asset)


@router.post("/assets", operation_id="create_asset", status_code=201)
async def create_asset(body: AssetCreate, context: Create, response: Response) -> AssetOut:
    """Register an asset. Without a tag one is generated (A-000001, ...). Bought on an
    invoice line (`purchase_invoice_id` + `purchase_invoice_line`, numbered from 1), it
    costs the line's net amount, and that amount goes to the asset account: at the
    invoice's approval, or by a reclassification entry when it is approved already."""
    asset = await accounting.create_asset(
        context.session, context.audit_context, **body.model_dump(exclude_none=True)
    )
    return _out(asset, response)


@router.get("/assets", operation_id="list_assets")
async def list_assets(
    context: Read,
    page: Paging,
    category_id: UUID | None = None,
    location_id: UUID | None = None,
    custodian_id: UUID | None = None,
    status: AssetStatus | None = None,
    acquired_from: Day | None = None,
    acquired_to: Day | None = None,
    q: Annotated[str | None, Query(max_length=200, description="in tag, name or serial")] = None,
) -> Page[AssetOut]:
    """The tenant's assets, newest first, filtered."""
    rows, cursor = await service.list_assets(
        context.session,
        page,
        category_id=category_id,
        location_id=location_id,
        custodian_id=custodian_id,
        status=status,
        acquired_from=acquired_from,
        acquired_to=acquired_to,
        q=q,
    )
    return Page(items=[AssetOut.model_validate(a) for a in rows], next_cursor=cursor)


@router.get("/assets/register", operation_id="asset_register", response_model=AssetRegister)
async def asset_register(
    context: Read,
    as_of: Day,
    period_start: Annotated[
        Day | None, Query(description="start of the period; default: 1 January of as_of")
    ] = None,
) -> Response:
    """Per asset and per category: cost, accumulated depreciation, net book value, and
    depreciation in the period, as of a date. Money as decimal strings."""
    document = await register.register_json(context.session, as_of, period_start)
    return Response(document, media_type="application/json")


@router.get(
    "/assets/register.csv",
    operation_id="asset_register_csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def asset_register_csv(
    context: Read, database: DatabaseDep, as_of: Day, period_start: Day | None = None
) -> StreamingResponse:
    """The register as CSV, streamed."""
    rows = register.register_csv(database, context.tenant_id, as_of, period_start)
    return StreamingResponse(
        rows,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="asset-register-{as_of}.csv"'},
    )


@router.get("/assets/roll-forward", operation_id="asset_roll_forward")
async def asset_roll_forward(
    context: Read,
    from_day: Annotated[Day, Query(alias="from", description="any day of the first month")],
    to_day: Annotated[Day, Query(alias="to", description="any day of the last month")],
) -> RollForward:
    """Per category and currency: opening + additions ± adjustments - disposals = closing
    for cost, accumulated depreciation and accumulated impairment; net book values."""
    return RollForward.model_validate(
        await rollforward.roll_forward(context.session, from_day, to_day)
    )


@router.post(
    "/assets/import",
    operation_id="import_assets",
    response_model=ImportReport,
    response_model_exclude_none=True,
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {}}}},
)
async def import_assets(
    request: Request,
    context: Write,
    partial: Annotated[bool, Query(description="import the valid rows, report the rest")] = False,
) -> dict[str, Any]:
    """Create assets from a CSV file (see the columns in the README), with a per-row
    report. Nothing is imported when a row is invalid, unless `partial=true`."""
    return await importer.import_assets(
        context.session,
        context.audit_context,
        csvfiles.decode(await request.body()),
        partial=partial,
    )


@router.get("/assets/{asset_id}", operation_id="get_asset")
async def get_asset(asset_id: UUID, context: Read, response: Response) -> AssetOut:
    """One asset (`ETag`: its version, for the changes that take If-Match)."""
    return _out(await service.get_asset(context.session, asset_id), response)


@router.patch("/assets/{asset_id}", operation_id="update_asset")
async def update_asset(
    asset_id: UUID,
    body: AssetUpdate,
    context: Write,
    response: Response,
    if_match: IfMatch = None,
) -> AssetOut:
    """Takes If-Match with the asset's ETag."""
    asset = await service.update_asset(
        context.session,
        context.audit_context,
        asset_id,
        body.model_dump(exclude_unset=True),
        if_match=sent_if_match(if_match),
    )
    return _out(asset, response)


@router.delete("/assets/{asset_id}", operation_id="delete_asset", status_code=204)
async def delete_asset(asset_id: UUID, context: Delete, if_match: IfMatch = None) -> Response:
    """Only a draft asset (never in service, never depreciated). Takes If-Match."""
    await service.delete_asset(
        context.session, context.audit_context, asset_id, if_match=sent_if_match(if_match)
    )
    return Response(status_code=204)


@router.post("/assets/{asset_id}/transfer", operation_id="transfer_asset")
async def transfer_asset(
    asset_id: UUID,
    body: Transfer,
    context: Write,
    response: Response,
    if_match: IfMatch = None,
) -> AssetOut:
    """A new location or custodian. Takes If-Match with the asset's ETag."""
    asset = await service.transfer(
        context.session,
        context.audit_context,
        asset_id,
        if_match=sent_if_match(if_match),
        location_id=body.location_id,
        custodian_id=body.custodian_id,
        on=body.on,
        note=body.note,
    )
    return _out(asset, response)


@router.get("/assets/{asset_id}/history", operation_id="asset_history")
async def asset_history(asset_id: UUID, context: Read, page: Paging) -> Page[EventOut]:
    """What happened to the asset: created, transfers, maintenance, disposal."""
    rows, cursor = await service.asset_history(context.session, asset_id, page)
    return Page(items=[EventOut.model_validate(e) for e in rows], next_cursor=cursor)


@router.post("/assets/{asset_id}/maintenance", operation_id="record_maintenance", status_code=201)
async def record_maintenance(
    asset_id: UUID,
    body: MaintenanceCreate,
    context: Create,
    if_match: IfMatch = None,
) -> MaintenanceOut:
    """Open (or record) a maintenance; while one is open the asset is under maintenance.
    Takes If-Match with the asset's ETag."""
    record = await service.record_maintenance(
        context.session,
        context.audit_context,
        asset_id,
        if_match=sent_if_match(if_match),
        **body.model_dump(),
    )
    return MaintenanceOut.model_validate(record)


@router.post("/assets/{asset_id}/maintenance/{record_id}/close", operation_id="close_maintenance")
async def close_maintenance(
    asset_id: UUID,
    record_id: UUID,
    body: MaintenanceClose,
    context: Write,
    if_match: IfMatch = None,
) -> MaintenanceOut:
    """End a maintenance. Takes If-Match with the asset's ETag."""
    record = await service.close_maintenance(
        context.session,
        context.audit_context,
        asset_id,
        record_id,
        if_match=sent_if_match(if_match),
        ended_on=body.ended_on,
    )
    return MaintenanceOut.model_validate(record)


@router.post("/assets/{asset_id}/dispose", operation_id="dispose_asset")
async def dispose_asset(
    asset_id: UUID,
    body: Disposal,
    context: Dispose,
    response: Response,
    if_match: IfMatch = None,
) -> AssetOut:
    """Sale, scrap or donation: depreciation stops; book value and gain or loss are kept.
    A state change: needs If-Match with the asset's ETag."""
    asset = await accounting.dispose(
        context.session,
        context.audit_context,
        asset_id,
        if_match=sent_if_match(if_match),
        on=body.on,
        method=body.method,
        proceeds=body.proceeds,
        proceeds_account_code=body.proceeds_account_code,
    )
    return _out(asset, response)


@router.post("/assets/{asset_id}/disposal/reverse", operation_id="reverse_asset_disposal")
async def reverse_disposal(
    asset_id: UUID, context: Dispose, response: Response, if_match: IfMatch = None
) -> AssetOut:
    """Reverse a posted disposal while its period is open: the mirror entry posts and the
    asset returns to service. Takes If-Match with the asset's ETag."""
    asset = await accounting.reverse_disposal(
        context.session, context.audit_context, asset_id, if_match=sent_if_match(if_match)
    )
    return _out(asset, response)


@router.post("/assets/{asset_id}/capitalize", operation_id="capitalize_asset")
async def capitalize_asset(asset_id: UUID, body: Capitalization, context: Posts) -> PostedEntry:
    """Post the asset's cost: Dr 1500 / Cr `credit_account_code` (default 9999), dated
    its acquisition; once per asset (409 `already_posted`)."""
    entry = await accounting.capitalize(
        context.session,
        context.audit_context,
        asset_id,
        credit_account_code=body.credit_account_code,
    )
    return PostedEntry(entry_id=entry.id, posted_on=entry.posted_on, occurred_on=entry.occurred_on)


@router.post("/assets/{asset_id}/adjustments", operation_id="adjust_asset", status_code=201)
async def adjust_asset(
    asset_id: UUID, body: AdjustmentCreate, context: Posts, if_match: IfMatch = None
) -> AdjustmentOut:
    """A mid-life change (useful_life, salvage, impairment, revaluation, cost), dated in or
    after the last posted month: the schedule is recomputed from its month and the change
    posts. Takes If-Match with the asset's ETag."""
    adjustment = await accounting.adjust(
        context.session,
        context.audit_context,
        asset_id,
        if_match=sent_if_match(if_match),
        **body.model_dump(),
    )
    return AdjustmentOut.model_validate(adjustment)


@router.post("/depreciation-runs", operation_id="run_depreciation", status_code=201)
async def run_depreciation(body: DepreciationRunCreate, context: Posts) -> DepreciationRunOut:
    """Post every month's depreciation up to and including `period` that is not posted
    yet, for every asset in service: Dr 6800 / Cr 1590, one entry per asset and month.
    A second run of the same period posts nothing more."""
    summary = await accounting.run_depreciation(
        context.session, context.audit_context, date.fromisoformat(f"{body.period}-01")
    )
    return _run_out(summary)


@router.get("/depreciation-runs", operation_id="list_depreciation_runs")
async def list_depreciation_runs(context: Read, page: Paging) -> Page[DepreciationRunOut]:
    """The depreciation runs, newest first, with their asset counts and totals."""
    summaries, cursor = await accounting.list_runs(context.session, page)
    return Page(items=[_run_out(summary) for summary in summaries], next_cursor=cursor)


def _run_out(summary: accounting.RunSummary) -> DepreciationRunOut:
    run = summary.run
    return DepreciationRunOut(
        id=run.id,
        period=f"{run.period:%Y-%m}",
        asset_count=run.asset_count,
        month_count=run.month_count,
        totals=summary.totals,
        created_at=run.created_at,
    )


def _schedule_out(setting: scheduled.Setting) -> DepreciationScheduleOut:
    last = setting.last_period
    return DepreciationScheduleOut(
        auto=setting.auto, last_period=None if last is None else f"{last:%Y-%m}"
    )


@router.get(
    "/depreciation-schedule",
    operation_id="get_depreciation_schedule",
    response_model=DepreciationScheduleOut,
)
async def get_depreciation_schedule(context: Read) -> Response:
    """Whether the worker posts each month's depreciation once the month is over, and the
    last month it posted (`ETag`: its version; the default, off, is version 1)."""
    setting = await scheduled.read_setting(context.session)
    return json_with_etag(_schedule_out(setting), setting.version)


@router.put("/depreciation-schedule", operation_id="replace_depreciation_schedule")
async def replace_depreciation_schedule(
    body: DepreciationScheduleIn, context: Posts, response: Response, if_match: IfMatch = None
) -> DepreciationScheduleOut:
    """Turn the scheduled run on or off (If-Match). On, the worker posts the previous
    month (and any month missed before it) once, then each month after it ends."""
    setting = await scheduled.replace_setting(
        context.session, context.audit_context, if_match=sent_if_match(if_match), auto=body.auto
    )
    set_etag(response, setting.version)
    return _schedule_out(setting)


@router.get("/assets/{asset_id}/schedule", operation_id="asset_schedule")
async def asset_schedule(asset_id: UUID, context: Read) -> list[ScheduleRowOut]:
    """The monthly depreciation schedule (empty for a draft)."""
    return [
        ScheduleRowOut(
            period=row.period_start,
            opening_value=row.opening_value,
            depreciation=row.depreciation,
            accumulated=row.accumulated_depreciation,
            closing_value=row.closing_value,
        )
        for row in await service.schedule_of(context.session, asset_id)
    ]


@router.get("/assets/{asset_id}/book-value", operation_id="asset_book_value")
async def asset_book_value(asset_id: UUID, context: Read, as_of: Day) -> BookValue:
    """The asset's net book value at the end of the month of `as_of`."""
    value, currency = await service.book_value_of(context.session, asset_id, as_of)
    return BookValue(as_of=as_of, book_value=value, currency=currency)


@router.post("/assets/{asset_id}/usage", operation_id="record_asset_usage", status_code=204)
async def record_usage(asset_id: UUID, body: Usage, context: Write) -> Response:
    """Units produced in a month, for units-of-production depreciation."""
    await service.record_usage(
        context.session, context.audit_context, asset_id, period=body.period, units=body.units
    )
    return Response(status_code=204)
