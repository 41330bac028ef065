"""Asset rules: the register, movements, maintenance, disposal; depreciation by the engine.

Each endpoint makes one call here that does its whole step. A change of an asset takes
the row lock and the caller's If-Match version first (`locked_at_version`: 404, then
428 or 412), then checks the step (409, 422), changes, audits, and returns what the
answer shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.assets.depreciation import (
    Convention,
    DepreciableAsset,
    DepreciationMethod,
    ScheduleRow,
    book_value,
    depreciation_schedule,
)
from ledgerline.assets.models import (
    Asset,
    AssetAdjustment,
    AssetCategory,
    AssetEvent,
    AssetStatus,
    AssetTagCounter,
    AssetUsage,
    Custodian,
    DepreciationEntry,
    DepreciationPosting,
    Location,
    MaintenanceRecord,
)
from ledgerline.audit.service import AuditContext, diff
from ledgerline.db.rows import locked_at_version, not_found, row_by_id
from ledgerline.events.catalog import asset_changed
from ledgerline.ledger.models import Account, AccountType
from ledgerline.pagination import PageRequest, contains, keyset_page
from ledgerline.problems import Problem
from ledgerline.values import cents

ZERO = Decimal("0.00")

# What an asset's PATCH may no longer change once a month of it is posted (or adjusted),
# and the adjustment that does it instead (None: nothing changes it afterwards).
GUARDED_FIELDS: dict[str, str | None] = {
    "in_service_date": None,
    "cost": "cost",
    "salvage_value": "salvage",
    "useful_life_months": "useful_life",
    "depreciation_method": None,
    "convention": None,
}

_PARENT_KIND = {"site": None, "building": "site", "room": "building"}

Reference = AssetCategory | Location | Custodian
ReferenceT = TypeVar("ReferenceT", AssetCategory, Location, Custodian)


async def _flush_or(session: AsyncSession, error: Problem) -> None:
    """Flush; a broken constraint (a reference to a row this tenant cannot see, a taken
    unique value) becomes `error` instead of a 500."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as integrity:
        raise error from integrity


# A category's own accounts, and the type each must be of.
CATEGORY_ACCOUNT_TYPES: dict[str, AccountType] = {
    "asset_account_code": AccountType.ASSET,
    "accumulated_depreciation_account_code": AccountType.ASSET,
    "depreciation_expense_account_code": AccountType.EXPENSE,
}


async def _check_category_accounts(session: AsyncSession, fields: Mapping[str, Any]) -> None:
    """Each account a category names exists in the tenant's chart, of the right type."""
    named = {
        field: code for field in CATEGORY_ACCOUNT_TYPES if (code := fields.get(field)) is not None
    }
    if not named:
        return
    found = await session.execute(
        select(Account.code, Account.type).where(Account.code.in_(set(named.values())))
    )
    types = {row.code: row.type for row in found}
    for field, code in named.items():
        if code not in types:
            raise Problem(
                422,
                "unknown_account_code",
                f"This tenant has no account {code}.",
                extra={"field": field, "account_codes": [code]},
            )
        if types[code] != CATEGORY_ACCOUNT_TYPES[field]:
            raise Problem(
                422,
                "category_account_wrong_type",
                f"Account {code} is of type {types[code]}; {field} names an"
                f" {CATEGORY_ACCOUNT_TYPES[field]} account.",
                extra={"field": field, "account_code": code},
            )


_CATEGORY_POSTED = text(
    """
    SELECT EXISTS (
        SELECT 1 FROM assets a
        WHERE a.category_id = :category
          AND (a.acquisition_entry_id IS NOT NULL OR a.disposal_entry_id IS NOT NULL
               OR EXISTS (SELECT 1 FROM depreciation_postings p
                          WHERE p.tenant_id = a.tenant_id AND p.asset_id = a.id)
               OR EXISTS (SELECT 1 FROM asset_adjustments j
                          WHERE j.tenant_id = a.tenant_id AND j.asset_id = a.id)
               OR EXISTS (SELECT 1 FROM journal_entries e
                          WHERE e.tenant_id = a.tenant_id AND e.source_type = 'asset'
                            AND e.source_id = a.id)))
    """
)


async def create_category(
    session: AsyncSession, audit: AuditContext, **fields: Any
) -> AssetCategory:
    await _check_category_accounts(session, fields)
    category = AssetCategory(tenant_id=audit.tenant_id, **fields)
    session.add(category)
    await _flush_or(session, Problem(409, "category_exists", "A category has this name."))
    audit.record(
        session,
        "asset_category.created",
        target_type="asset_category",
        target_id=category.id,
        changes={"name": category.name},
    )
    return category


async def create_location(
    session: AsyncSession, audit: AuditContext, *, name: str, kind: str, parent_id: UUID | None
) -> Location:
    """Sites are roots; a building stands on a site, a room in a building."""
    expected_parent = _PARENT_KIND[kind]
    if (expected_parent is None) != (parent_id is None):
        raise Problem(
            422,
            "invalid_location_parent",
            "A site has no parent; a building's parent is a site; a room's is a building.",
        )
    if parent_id is not None:
        await _parent_for(session, parent_id, kind)
    location = Location(tenant_id=audit.tenant_id, name=name, kind=kind, parent_id=parent_id)
    session.add(location)
    await session.flush()
    audit.record(
        session,
        "location.created",
        target_type="location",
        target_id=location.id,
        changes={"name": name, "kind": kind},
    )
    return location


async def _parent_for(session: AsyncSession, parent_id: UUID, kind: str) -> Location:
    """The active location a `kind` may stand in (404, 409 inactive, 422 wrong kind)."""
    expected = _PARENT_KIND[kind]
    parent = await active_reference(session, Location, parent_id, what="parent_location")
    if parent.kind != expected:
        raise Problem(422, "invalid_location_parent", f"A {kind} belongs in a {expected}.")
    return parent


async def active_reference(
    session: AsyncSession, model: type[ReferenceT], row_id: UUID, *, what: str
) -> ReferenceT:
    """A category, location or custodian that new references may name: 404 when absent,
    409 `<what>_inactive` when deactivated. Share-locked, as the database's own check
    (migration 0013) locks it, so a concurrent deactivation waits."""
    row = await session.scalar(select(model).where(model.id == row_id).with_for_update(read=True))
    if row is None:
        raise not_found(what)
    if not row.is_active:
        raise Problem(409, f"{what}_inactive", f"This {what.replace('_', ' ')} is deactivated.")
    return row


async def create_custodian(
    session: AsyncSession,
    audit: AuditContext,
    *,
    name: str,
    email: str | None,
    user_id: UUID | None,
) -> Custodian:
    custodian = Custodian(tenant_id=audit.tenant_id, name=name, email=email, user_id=user_id)
    session.add(custodian)
    await _flush_or(session, not_found("user"))
    audit.record(
        session,
        "custodian.created",
        target_type="custodian",
        target_id=custodian.id,
        changes={"name": name},
    )
    return custodian


async def list_categories(
    session: AsyncSession, page: PageRequest, *, is_active: bool | None = None
) -> tuple[Sequence[AssetCategory], str | None]:
    statement = select(AssetCategory)
    if is_active is not None:
        statement = statement.where(AssetCategory.is_active == is_active)
    return await keyset_page(session, statement, AssetCategory.id, page)


async def list_locations(
    session: AsyncSession,
    page: PageRequest,
    *,
    parent_id: UUID | None,
    is_active: bool | None = None,
) -> tuple[Sequence[Location], str | None]:
    statement = select(Location)
    if parent_id is not None:
        statement = statement.where(Location.parent_id == parent_id)
    if is_active is not None:
        statement = statement.where(Location.is_active == is_active)
    return await keyset_page(session, statement, Location.id, page)


async def list_custodians(
    session: AsyncSession, page: PageRequest, *, is_active: bool | None = None
) -> tuple[Sequence[Custodian], str | None]:
    statement = select(Custodian)
    if is_active is not None:
        statement = statement.where(Custodian.is_active == is_active)
    return await keyset_page(session, statement, Custodian.id, page)


# --- reference data: read one, update at a version, deactivate -----------------------

_REFERENCE_WHAT: dict[type[Any], str] = {
    AssetCategory: "asset_category",
    Location: "location",
    Custodian: "custodian",
}


async def get_reference(session: AsyncSession, model: type[ReferenceT], row_id: UUID) -> ReferenceT:
    """One category, location or custodian (404 `<what>_not_found`)."""
    return await row_by_id(session, model, row_id, what=_REFERENCE_WHAT[model])


def _snapshot(row: Reference, fields: Sequence[str]) -> dict[str, Any]:
    return {field: _plain(getattr(row, field)) for field in fields}


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal | UUID) else value


async def _changed(
    session: AsyncSession, audit: AuditContext, row: Reference, changes: Mapping[str, Any]
) -> None:
    """Apply `changes`, flush (a taken name is 409) and audit what changed."""
    what = _REFERENCE_WHAT[type(row)]
    before = _snapshot(row, list(changes))
    for key, value in changes.items():
        setattr(row, key, value)
    await _flush_or(session, Problem(409, f"{what}_exists", "Another one has this name."))
    audit.record(
        session,
        f"{what}.updated",
        target_type=what,
        target_id=row.id,
        changes=diff(before, _snapshot(row, list(changes))),
    )


async def update_category(
    session: AsyncSession,
    audit: AuditContext,
    category_id: UUID,
    changes: dict[str, Any],
    *,
    if_match: str | None,
) -> AssetCategory:
    """New defaults for assets created from now on; existing assets keep theirs. Its
    accounts change only while nothing of its assets is posted (the balances already on
    the old accounts would no longer match the register)."""
    category = await locked_at_version(
        session, AssetCategory, category_id, if_match, what="asset_category"
    )
    moved = [
        field
        for field in CATEGORY_ACCOUNT_TYPES
        if field in changes and changes[field] != getattr(category, field)
    ]
    if moved:
        await _check_category_accounts(session, changes)
        if await session.scalar(_CATEGORY_POSTED, {"category": category.id}):
            raise Problem(
                409,
                "category_accounts_in_use",
                "Assets of this category have postings on its accounts; they stay.",
                extra={"fields": moved},
            )
    method = changes.get("depreciation_method", category.depreciation_method)
    rate = changes.get("declining_rate", category.declining_rate)
    if (method == DepreciationMethod.DECLINING_BALANCE) != (rate is not None):
        raise Problem(
            422,
            "invalid_depreciation",
            "declining_rate goes with declining_balance, and only with it.",
        )
    await _changed(session, audit, category, changes)
    return category


async def update_location(
    session: AsyncSession,
    audit: AuditContext,
    location_id: UUID,
    changes: dict[str, Any],
    *,
    if_match: str | None,
) -> Location:
    """A new name, a new parent of the right kind (a site has none), or reactivation."""
    location = await locked_at_version(session, Location, location_id, if_match, what="location")
    if "parent_id" in changes and changes["parent_id"] != location.parent_id:
        if changes["parent_id"] is None or location.kind == "site":
            raise Problem(
                422,
                "invalid_location_parent",
                "A site has no parent; a building's parent is a site; a room's is a building.",
            )
        await _parent_for(session, changes["parent_id"], location.kind)
    await _changed(session, audit, location, changes)
    return location


async def update_custodian(
    session: AsyncSession,
    audit: AuditContext,
    custodian_id: UUID,
    changes: dict[str, Any],
    *,
    if_match: str | None,
) -> Custodian:
    custodian = await locked_at_version(
        session, Custodian, custodian_id, if_match, what="custodian"
    )
    email = changes.get("email", custodian.email)
    user_id = changes.get("user_id", custodian.user_id)
    if email is None and user_id is None:
        raise Problem(
            422,
            "custodian_unreachable",
            "A custodian is a user of the tenant or a person with an email.",
        )
    before = _snapshot(custodian, list(changes))
    for key, value in changes.items():
        setattr(custodian, key, value)
    await _flush_or(session, not_found("user"))
    audit.record(
        session,
        "custodian.updated",
        target_type="custodian",
        target_id=custodian.id,
        changes=diff(before, _snapshot(custodian, list(changes))),
    )
    return custodian


async def deactivate_reference(
    session: AsyncSession,
    audit: AuditContext,
    model: type[ReferenceT],
    row_id: UUID,
    *,
    if_match: str | None,
) -> None:
    """Deactivate a category, location or custodian: the assets that name it keep it, new
    ones cannot (nor a new child location); a second time changes nothing. A location
    with active locations inside it stays (409): deactivate those first."""
    what = _REFERENCE_WHAT[model]
    row = await locked_at_version(session, model, row_id, if_match, what=what)
    if not row.is_active:
        return
    if isinstance(row, Location):
        child = await session.scalar(
            select(Location.id).where(Location.parent_id == row.id, Location.is_active).limit(1)
        )
        if child is not None:
            raise Problem(
                409,
                "location_has_active_children",
                "Active locations lie inside this one; deactivate them first.",
                extra={"child_location_id": str(child)},
            )
    row.is_active = False
    await session.flush()
    audit.record(session, f"{what}.deactivated", target_type=what, target_id=row.id)


async def next_tag(session: AsyncSession, tenant_id: UUID) -> str:
    """The next free generated tag: A-000001, A-000002, ... (one counter row per tenant,
    incremented atomically), skipping tags someone chose by hand."""
    while True:
        tag = await _draw_tag(session, tenant_id)
        if await session.scalar(select(Asset.id).where(Asset.tag == tag)) is None:
            return tag


async def _draw_tag(session: AsyncSession, tenant_id: UUID) -> str:
    value = await session.scalar(
        insert(AssetTagCounter)
        .values(tenant_id=tenant_id, last_value=1)
        .on_conflict_do_update(
            index_elements=[AssetTagCounter.tenant_id],
            set_={"last_value": AssetTagCounter.last_value + 1},
        )
        .returning(AssetTagCounter.last_value)
    )
    return f"A-{value:06d}"


def _today() -> date:
    return datetime.now(UTC).date()


async def create_asset(session: AsyncSession, audit: AuditContext, **fields: Any) -> Asset:
    """An asset; what is not given comes from its category (life, method, salvage)."""
    category = await active_reference(
        session, AssetCategory, fields["category_id"], what="category"
    )
    if fields.get("location_id") is not None:
        await active_reference(session, Location, fields["location_id"], what="location")
    if fields.get("custodian_id") is not None:
        await active_reference(session, Custodian, fields["custodian_id"], what="custodian")
    cost: Decimal = fields["cost"]
    fields.setdefault("useful_life_months", None)
    fields["useful_life_months"] = fields["useful_life_months"] or category.useful_life_months
    fields["depreciation_method"] = (
        fields.get("depreciation_method") or category.depreciation_method
    )
    fields["convention"] = fields.get("convention") or category.convention
    if fields.get("declining_rate") is None:
        fields["declining_rate"] = category.declining_rate
    if fields.get("salvage_value") is None:
        fields["salvage_value"] = cents(cost * category.salvage_percent / 100)
    if fields["salvage_value"] > cost:
        raise Problem(422, "salvage_above_cost", "The salvage value exceeds the cost.")
    if not fields.get("tag"):
        fields["tag"] = await next_tag(session, audit.tenant_id)
    in_service = fields.get("in_service_date") is not None
    asset = Asset(
        tenant_id=audit.tenant_id,
        status=AssetStatus.IN_SERVICE if in_service else AssetStatus.DRAFT,
        **fields,
    )
    engine_asset(asset)  # refuses parameters the engine cannot depreciate
    session.add(asset)
    await _flush_or(
        session,
        Problem(
            409,
            "tag_taken_or_reference_unknown",
            "The tag is taken, or the location or custodian does not exist.",
        ),
    )
    _event(session, asset, "created", asset.acquisition_date)
    await store_schedule(session, asset)
    audit.record(
        session,
        "asset.created",
        target_type="asset",
        target_id=asset.id,
        changes={"tag": asset.tag, "name": asset.name, "cost": str(asset.cost)},
    )
    await asset_changed(session, asset, "create")
    return asset


def engine_asset(
    asset: Asset,
    *,
    disposal_date: date | None = None,
    usage: Mapping[date, Decimal] | None = None,
) -> DepreciableAsset | None:
    """The engine's view of an asset in service (None for a draft). Units of production
    needs the recorded `usage` (see `load_usage`)."""
    if asset.in_service_date is None:
        return None
    by_units = asset.depreciation_method == DepreciationMethod.UNITS_OF_PRODUCTION
    try:
        return DepreciableAsset(
            cost=asset.cost,
            salvage_value=asset.salvage_value,
            useful_life_months=asset.useful_life_months,
            in_service_date=asset.in_service_date,
            method=DepreciationMethod(asset.depreciation_method),
            convention=Convention(asset.convention),
            declining_rate=asset.declining_rate
            if asset.depreciation_method == DepreciationMethod.DECLINING_BALANCE
            else None,
            disposal_date=disposal_date or asset.disposed_on,
            total_units=asset.total_units if by_units else None,
            units_used=(usage or {}) if by_units else None,
        )
    except ValueError as error:
        raise Problem(422, "invalid_depreciation", str(error)) from error


async def load_usage(session: AsyncSession, asset: Asset) -> dict[date, Decimal]:
    if asset.depreciation_method != DepreciationMethod.UNITS_OF_PRODUCTION:
        return {}
    rows = await session.execute(
        select(AssetUsage.period, AssetUsage.units).where(AssetUsage.asset_id == asset.id)
    )
    return {row.period: row.units for row in rows}


async def record_usage(
    session: AsyncSession, audit: AuditContext, asset_id: UUID, *, period: date, units: Decimal
) -> None:
    """Units produced in a month (replacing what was recorded for it); the schedule follows.
    The asset row does not change (its version stays): no If-Match, only its lock."""
    asset = await row_by_id(session, Asset, asset_id, what="asset", for_update=True)
    _writable(asset)
    if asset.depreciation_method != DepreciationMethod.UNITS_OF_PRODUCTION:
        raise Problem(409, "not_units_of_production", "This asset does not depreciate by use.")
    month = period.replace(day=1)
    first = asset.in_service_date.replace(day=1) if asset.in_service_date else None
    if first is None or not first <= month <= _today().replace(day=1):
        raise Problem(
            422,
            "usage_period_out_of_range",
            "Usage is recorded for months from the in-service month to the current one.",
        )
    posted = await last_posted_month(session, asset.id)
    if posted is not None and month <= posted:
        raise Problem(
            409,
            "asset_history_posted",
            "The depreciation of this month has been posted; its usage stays.",
            extra={"last_posted_period": str(posted)},
        )
    await session.execute(
        insert(AssetUsage)
        .values(tenant_id=asset.tenant_id, asset_id=asset.id, period=month, units=units)
        .on_conflict_do_update(
            index_elements=[AssetUsage.tenant_id, AssetUsage.asset_id, AssetUsage.period],
            set_={"units": units},
        )
    )
    await store_schedule(session, asset)
    audit.record(
        session,
        "asset.usage_recorded",
        target_type="asset",
        target_id=asset.id,
        changes={"period": str(month), "units": str(units)},
    )


async def store_schedule(session: AsyncSession, asset: Asset) -> None:
    """Rewrite the asset's stored schedule (for reports) from the engine. After a mid-life
    adjustment only the months from the last one's effective month are rewritten: what
    came before stays as it was (and as it was posted)."""
    last_adjustment = await session.scalar(
        select(func.max(AssetAdjustment.effective_from)).where(AssetAdjustment.asset_id == asset.id)
    )
    if last_adjustment is not None:
        await store_schedule_from(session, asset, last_adjustment)
        return
    await session.execute(delete(DepreciationEntry).where(DepreciationEntry.asset_id == asset.id))
    rows = schedule(asset, await load_usage(session, asset))
    await _insert_schedule(session, asset, rows, ZERO)


async def _insert_schedule(
    session: AsyncSession, asset: Asset, rows: Sequence[ScheduleRow], accumulated_before: Decimal
) -> None:
    if rows:
        await session.execute(
            insert(DepreciationEntry),
            [
                {
                    "tenant_id": asset.tenant_id,
                    "asset_id": asset.id,
                    "period": row.period_start,
                    "amount": row.depreciation,
                    "accumulated": accumulated_before + row.accumulated_depreciation,
                }
                for row in rows
            ],
        )


async def depreciation_before(session: AsyncSession, asset: Asset, month: date) -> Decimal:
    """The asset's depreciation in its stored schedule before `month`."""
    total = await session.scalar(
        select(func.sum(DepreciationEntry.amount)).where(
            DepreciationEntry.asset_id == asset.id, DepreciationEntry.period < month
        )
    )
    return total or ZERO


def months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


async def store_schedule_from(session: AsyncSession, asset: Asset, month: date) -> None:
    """Keep the stored schedule before `month`; from it, spread what is left to
    depreciate (cost less depreciation so far, less impairment, less salvage) over the
    months left of the useful life, by the asset's method (full-month convention: the
    new schedule starts on a month's first day), up to the disposal if there is one."""
    assert asset.in_service_date is not None
    await session.execute(
        delete(DepreciationEntry).where(
            DepreciationEntry.asset_id == asset.id, DepreciationEntry.period >= month
        )
    )
    accumulated = await depreciation_before(session, asset, month)
    carrying = asset.cost - accumulated - asset.accumulated_impairment
    remaining = asset.useful_life_months - months_between(asset.in_service_date, month)
    if remaining < 1 or (asset.disposed_on is not None and asset.disposed_on < month):
        return
    method = DepreciationMethod(asset.depreciation_method)
    try:
        remainder = DepreciableAsset(
            cost=carrying,
            salvage_value=min(asset.salvage_value, carrying),
            useful_life_months=remaining,
            in_service_date=month,
            method=method,
            declining_rate=asset.declining_rate
            if method is DepreciationMethod.DECLINING_BALANCE
            else None,
            disposal_date=asset.disposed_on,
        )
    except ValueError as error:
        raise Problem(422, "invalid_depreciation", str(error)) from error
    await _insert_schedule(session, asset, depreciation_schedule(remainder), accumulated)


def schedule(asset: Asset, usage: Mapping[date, Decimal] | None = None) -> tuple[ScheduleRow, ...]:
    engine = engine_asset(asset, usage=usage)
    return () if engine is None else depreciation_schedule(engine)


def value_on(asset: Asset, as_of: date, usage: Mapping[date, Decimal] | None = None) -> Decimal:
    engine = engine_asset(asset, usage=usage)
    if engine is None or as_of < engine.in_service_date:
        return cents(asset.cost)
    return book_value(engine, as_of)


async def get_asset(session: AsyncSession, asset_id: UUID) -> Asset:
    return await row_by_id(session, Asset, asset_id, what="asset")


async def list_assets(
    session: AsyncSession,
    page: PageRequest,
    *,
    category_id: UUID | None,
    location_id: UUID | None,
    custodian_id: UUID | None,
    status: AssetStatus | None,
    acquired_from: date | None,
    acquired_to: date | None,
    q: str | None,
) -> tuple[Sequence[Asset], str | None]:
    """A page of the assets the filters select (`q` in tag, name or serial number)."""
    statement = select(Asset)
    for column, value in (
        (Asset.category_id, category_id),
        (Asset.location_id, location_id),
        (Asset.custodian_id, custodian_id),
        (Asset.status, status),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if acquired_from is not None:
        statement = statement.where(Asset.acquisition_date >= acquired_from)
    if acquired_to is not None:
        statement = statement.where(Asset.acquisition_date <= acquired_to)
    if q:
        pattern = contains(q)
        statement = statement.where(
            or_(
                Asset.tag.ilike(pattern),
                Asset.name.ilike(pattern),
                Asset.serial_number.ilike(pattern),
            )
        )
    return await keyset_page(session, statement, Asset.id, page)


async def asset_history(
    session: AsyncSession, asset_id: UUID, page: PageRequest
) -> tuple[Sequence[AssetEvent], str | None]:
    """A page of the asset's events (created, transferred, maintenance, disposed)."""
    await get_asset(session, asset_id)
    statement = select(AssetEvent).where(AssetEvent.asset_id == asset_id)
    return await keyset_page(session, statement, AssetEvent.id, page)


async def schedule_of(session: AsyncSession, asset_id: UUID) -> tuple[ScheduleRow, ...]:
    """The asset's monthly depreciation schedule (empty for a draft)."""
    asset = await get_asset(session, asset_id)
    adjusted = await _stored_schedule(session, asset)
    if adjusted is not None:
        return adjusted
    return schedule(asset, await load_usage(session, asset))


async def _stored_schedule(session: AsyncSession, asset: Asset) -> tuple[ScheduleRow, ...] | None:
    """An adjusted asset's schedule as stored (None without adjustments: the engine's is
    the same). Values are net of the impairment and with the cost as each month had it."""
    adjustments = (
        await session.execute(
            select(
                AssetAdjustment.effective_from,
                AssetAdjustment.cost_change,
                AssetAdjustment.impairment_change,
            ).where(AssetAdjustment.asset_id == asset.id)
        )
    ).all()
    if not adjustments:
        return None
    entries = await session.scalars(
        select(DepreciationEntry)
        .where(DepreciationEntry.asset_id == asset.id)
        .order_by(DepreciationEntry.period)
    )
    rows = []
    for entry in entries:
        cost = asset.cost - sum(
            (a.cost_change for a in adjustments if a.effective_from > entry.period), ZERO
        )
        impaired = sum(
            (a.impairment_change for a in adjustments if a.effective_from <= entry.period), ZERO
        )
        closing = cost - entry.accumulated - impaired
        rows.append(
            ScheduleRow(
                period_start=entry.period,
                opening_value=closing + entry.amount,
                depreciation=entry.amount,
                accumulated_depreciation=entry.accumulated,
                closing_value=closing,
            )
        )
    return tuple(rows)


async def book_value_of(session: AsyncSession, asset_id: UUID, as_of: date) -> tuple[Decimal, str]:
    """The asset's book value on `as_of`, and its currency."""
    asset = await get_asset(session, asset_id)
    adjusted = await _stored_schedule(session, asset)
    if adjusted is None:
        return value_on(asset, as_of, await load_usage(session, asset)), asset.currency
    earlier = [row for row in adjusted if row.period_start <= as_of]
    return (earlier[-1].closing_value if earlier else asset.cost), asset.currency


def _writable(asset: Asset) -> None:
    if asset.status == AssetStatus.DISPOSED:
        raise Problem(
            409,
            "asset_disposed",
            "A disposed asset is read-only.",
            extra={"current_status": asset.status},
        )


def _event(session: AsyncSession, asset: Asset, kind: str, on: date, **fields: Any) -> None:
    session.add(
        AssetEvent(
            tenant_id=asset.tenant_id, asset_id=asset.id, kind=kind, occurred_on=on, **fields
        )
    )


async def last_posted_month(session: AsyncSession, asset_id: UUID) -> date | None:
    """The latest month of the asset's depreciation that has been posted."""
    month: date | None = await session.scalar(
        select(func.max(DepreciationPosting.period)).where(DepreciationPosting.asset_id == asset_id)
    )
    return month


async def _history_is_fixed(session: AsyncSession, asset: Asset) -> bool:
    """Whether a month of the asset is posted or it has been adjusted."""
    if await last_posted_month(session, asset.id) is not None:
        return True
    adjusted = await session.scalar(
        select(AssetAdjustment.id).where(AssetAdjustment.asset_id == asset.id).limit(1)
    )
    return adjusted is not None


def history_posted(asset: Asset, fields: Sequence[str]) -> Problem:
    kinds = sorted({kind for field in fields if (kind := GUARDED_FIELDS[field]) is not None})
    advice = (
        f"Post an adjustment instead (POST /api/v1/assets/{asset.id}/adjustments with kind "
        + " or ".join(f"'{kind}'" for kind in kinds)
        + ")."
        if kinds
        else "They cannot change once a month is posted."
    )
    return Problem(
        409,
        "asset_history_posted",
        f"Depreciation of this asset has been posted: {', '.join(fields)} would move it. " + advice,
        extra={"fields": list(fields), "adjustment_kinds": kinds},
    )


async def update_asset(
    session: AsyncSession,
    audit: AuditContext,
    asset_id: UUID,
    changes: dict[str, Any],
    *,
    if_match: str | None,
) -> Asset:
    """A change of the asset's description, or, until a month of it is posted, of what
    its depreciation depends on (409 `asset_history_posted` afterwards)."""
    asset = await locked_at_version(session, Asset, asset_id, if_match, what="asset")
    _writable(asset)
    guarded = [
        key for key in GUARDED_FIELDS if key in changes and changes[key] != getattr(asset, key)
    ]
    if guarded and await _history_is_fixed(session, asset):
        raise history_posted(asset, guarded)
    if asset.purchase_invoice_id is not None and changes.get("cost", asset.cost) != asset.cost:
        raise Problem(
            409,
            "cost_from_invoice_line",
            "The cost of an asset bought on an invoice line is that line's net amount.",
        )
    service_date = changes.get("in_service_date")
    if service_date is not None and service_date < asset.acquisition_date:
        raise Problem(422, "service_before_acquisition", "in_service_date precedes acquisition.")
    if changes.get("salvage_value", asset.salvage_value) > changes.get("cost", asset.cost):
        raise Problem(422, "salvage_above_cost", "The salvage value exceeds the cost.")
    before = {key: str(getattr(asset, key)) for key in changes}
    for key, value in changes.items():
        setattr(asset, key, value)
    if asset.status == AssetStatus.DRAFT and asset.in_service_date is not None:
        asset.status = AssetStatus.IN_SERVICE
    engine_asset(asset)
    await session.flush()
    if guarded:
        await store_schedule(session, asset)
    audit.record(
        session,
        "asset.updated",
        target_type="asset",
        target_id=asset.id,
        changes={k: {"before": before[k], "after": str(v)} for k, v in changes.items()},
    )
    return asset


async def delete_asset(
    session: AsyncSession, audit: AuditContext, asset_id: UUID, *, if_match: str | None
) -> None:
    """Only a draft (never in service, so never depreciated) may be deleted."""
    asset = await locked_at_version(session, Asset, asset_id, if_match, what="asset")
    if asset.status != AssetStatus.DRAFT:
        raise Problem(
            409,
            "asset_not_draft",
            "Only a draft asset can be deleted.",
            extra={"current_status": asset.status},
        )
    if asset.acquisition_entry_id is not None:
        raise Problem(
            409,
            "asset_acquisition_posted",
            "The invoice line this asset was bought on is posted to its asset account.",
            extra={"entry_id": str(asset.acquisition_entry_id)},
        )
    audit.record(
        session,
        "asset.deleted",
        target_type="asset",
        target_id=asset.id,
        changes={"tag": asset.tag},
    )
    await session.delete(asset)


async def transfer(
    session: AsyncSession,
    audit: AuditContext,
    asset_id: UUID,
    *,
    if_match: str | None,
    location_id: UUID | None,
    custodian_id: UUID | None,
    on: date,
    note: str | None,
) -> Asset:
    """A new location or custodian (or both), kept in the asset's history."""
    asset = await locked_at_version(session, Asset, asset_id, if_match, what="asset")
    _writable(asset)
    if location_id is None and custodian_id is None:
        raise Problem(422, "nothing_to_transfer", "Name a new location or custodian.")
    earliest = asset.in_service_date or asset.acquisition_date
    if not earliest <= on <= _today():
        raise Problem(
            422,
            "transfer_date_out_of_range",
            "A transfer is dated between the in-service date (the acquisition date of a"
            " draft) and today.",
            extra={"earliest": str(earliest)},
        )
    if location_id and location_id != asset.location_id:
        await active_reference(session, Location, location_id, what="location")
    if custodian_id and custodian_id != asset.custodian_id:
        await active_reference(session, Custodian, custodian_id, what="custodian")
    _event(
        session,
        asset,
        "transferred",
        on,
        details=note,
        from_location_id=asset.location_id,
        to_location_id=location_id or asset.location_id,
        from_custodian_id=asset.custodian_id,
        to_custodian_id=custodian_id or asset.custodian_id,
    )
    asset.location_id = location_id or asset.location_id
    asset.custodian_id = custodian_id or asset.custodian_id
    await session.flush()
    audit.record(
        session,
        "asset.transferred",
        target_type="asset",
        target_id=asset.id,
        changes={"location_id": str(asset.location_id), "custodian_id": str(asset.custodian_id)},
    )
    return asset


async def record_maintenance(
    session: AsyncSession,
    audit: AuditContext,
    asset_id: UUID,
    *,
    if_match: str | None,
    **fields: Any,
) -> MaintenanceRecord:
    """A maintenance record; while it is open the asset is under maintenance."""
    asset = await locked_at_version(session, Asset, asset_id, if_match, what="asset")
    _writable(asset)
    if asset.status == AssetStatus.DRAFT:
        raise Problem(409, "asset_not_in_service", "A draft asset is not maintained yet.")
    record = MaintenanceRecord(tenant_id=asset.tenant_id, asset_id=asset.id, **fields)
    session.add(record)
    await session.flush()
    await _maintenance_status(session, asset)
    _event(session, asset, "maintenance", record.started_on, details=record.note)
    audit.record(
        session,
        "asset.maintenance_recorded",
        target_type="asset",
        target_id=asset.id,
        changes={"started_on": str(record.started_on), "ended_on": str(record.ended_on)},
    )
    return record


async def close_maintenance(
    session: AsyncSession,
    audit: AuditContext,
    asset_id: UUID,
    record_id: UUID,
    *,
    if_match: str | None,
    ended_on: date,
) -> MaintenanceRecord:
    """End a maintenance; with none left open the asset is back in service."""
    asset = await locked_at_version(session, Asset, asset_id, if_match, what="asset")
    _writable(asset)
    record = await session.scalar(
        select(MaintenanceRecord).where(
            MaintenanceRecord.id == record_id, MaintenanceRecord.asset_id == asset.id
        )
    )
    if record is None:
        raise not_found("maintenance_record")
    if record.ended_on is not None:
        raise Problem(409, "maintenance_closed", "This maintenance has ended already.")
    if ended_on < record.started_on:
        raise Problem(422, "ends_before_start", "Maintenance cannot end before it starts.")
    record.ended_on = ended_on
    await session.flush()
    await _maintenance_status(session, asset)
    audit.record(
        session,
        "asset.maintenance_closed",
        target_type="asset",
        target_id=asset.id,
        changes={"ended_on": str(ended_on)},
    )
    return record


async def _maintenance_status(session: AsyncSession, asset: Asset) -> None:
    open_record = await session.scalar(
        select(MaintenanceRecord.id)
        .where(MaintenanceRecord.asset_id == asset.id, MaintenanceRecord.ended_on.is_(None))
        .limit(1)
    )
    asset.status = AssetStatus.UNDER_MAINTENANCE if open_record else AssetStatus.IN_SERVICE
    await session.flush()


async def dispose(
    session: AsyncSession,
    audit: AuditContext,
    asset_id: UUID,
    *,
    if_match: str | None,
    on: date,
    method: str,
    proceeds: Decimal,
) -> Asset:
    """Depreciation stops at the disposal date; book value and gain (or loss) are kept."""
    asset = await locked_at_version(session, Asset, asset_id, if_match, what="asset")
    _writable(asset)
    if asset.in_service_date is None:
        raise Problem(409, "asset_not_in_service", "Delete a draft instead of disposing it.")
    if on < asset.in_service_date:
        raise Problem(422, "disposal_before_service", "Disposal predates the in-service date.")
    if on > _today():
        raise Problem(422, "disposal_in_future", "A disposal is recorded once it happened.")
    posted = await last_posted_month(session, asset.id)
    if posted is not None and on.replace(day=1) < posted:
        raise Problem(
            409,
            "asset_history_posted",
            "Depreciation is posted past this date; a disposal is dated in or after the"
            " last posted month.",
            extra={"last_posted_period": str(posted)},
        )
    asset.disposed_on = on
    asset.disposal_method = method
    asset.status = AssetStatus.DISPOSED
    await session.execute(
        update(MaintenanceRecord)
        .where(MaintenanceRecord.asset_id == asset.id, MaintenanceRecord.ended_on.is_(None))
        .values(ended_on=func.greatest(MaintenanceRecord.started_on, on))
    )
    await session.flush()
    await store_schedule(session, asset)
    depreciated = await depreciation_before(
        session, asset, date(on.year + on.month // 12, on.month % 12 + 1, 1)
    )
    value = asset.cost - depreciated - asset.accumulated_impairment
    asset.disposal_proceeds = cents(proceeds)
    asset.book_value_at_disposal = value
    asset.disposal_gain = cents(proceeds) - value
    await session.flush()
    _event(session, asset, "disposed", on, details=method)
    audit.record(
        session,
        "asset.disposed",
        target_type="asset",
        target_id=asset.id,
        changes={
            "book_value": str(value),
            "proceeds": str(proceeds),
            "gain": str(asset.disposal_gain),
        },
    )
    return asset


async def row_for_posting(session: AsyncSession, asset_id: UUID) -> Asset:
    """The asset, locked, for a posting of it (404; 409 once disposed)."""
    asset = await row_by_id(session, Asset, asset_id, what="asset", for_update=True)
    _writable(asset)
    return asset


async def return_to_service(
    session: AsyncSession, audit: AuditContext, asset: Asset, *, reversal_entry_id: UUID
) -> None:
    """A disposal undone: the asset is in service again and depreciates on."""
    before = {"disposed_on": str(asset.disposed_on), "proceeds": str(asset.disposal_proceeds)}
    asset.status = AssetStatus.IN_SERVICE
    for field in (
        "disposed_on",
        "disposal_method",
        "disposal_proceeds",
        "book_value_at_disposal",
        "disposal_gain",
        "disposal_entry_id",
    ):
        setattr(asset, field, None)
    await session.flush()
    await store_schedule(session, asset)
    _event(session, asset, "disposal_reversed", _today())
    audit.record(
        session,
        "asset.disposal_reversed",
        target_type="asset",
        target_id=asset.id,
        changes=before | {"reversal_entry_id": str(reversal_entry_id)},
    )


async def adjusted(
    session: AsyncSession, audit: AuditContext, asset: Asset, adjustment: AssetAdjustment
) -> None:
    """The asset's history and audit trail of an adjustment just made."""
    await session.flush()
    _event(
        session,
        asset,
        "adjusted",
        adjustment.occurred_on,
        details=f"{adjustment.kind}: carrying amount {adjustment.carrying_before}"
        f" -> {adjustment.carrying_after}",
    )
    audit.record(
        session,
        "asset.adjusted",
        target_type="asset",
        target_id=asset.id,
        changes={
            "adjustment_id": str(adjustment.id),
            "kind": adjustment.kind,
            "effective_from": str(adjustment.effective_from),
            "carrying_before": str(adjustment.carrying_before),
            "carrying_after": str(adjustment.carrying_after),
        },
    )
