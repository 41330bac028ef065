"""The tenant's purchasing settings: the matching mode new orders take, the tolerances
invoices are matched within, the over-receipt tolerance, and whether receipts accrue.
One row per tenant; the defaults below until an owner writes it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.service import AuditContext
from ledgerline.db.base import new_id
from ledgerline.db.rows import locked_at_version
from ledgerline.purchasing.models import Matching, PurchasingSettings

DEFAULTS: dict[str, Any] = {
    "matching": Matching.THREE_WAY,
    "price_tolerance_percent": Decimal("0.00"),
    "quantity_tolerance": Decimal("0.0000"),
    "over_receipt_percent": Decimal("0.00"),
    "accrue_on_receipt": False,
}


async def read_settings(session: AsyncSession) -> PurchasingSettings:
    """The tenant's row, or an unsaved one holding the defaults (version 1)."""
    row = await session.scalar(select(PurchasingSettings))
    return row if row is not None else PurchasingSettings(version=1, **DEFAULTS)


async def replace_settings(
    session: AsyncSession, audit: AuditContext, *, if_match: str | None, fields: dict[str, Any]
) -> PurchasingSettings:
    """The settings replaced at the version read (the defaults are version 1)."""
    await session.execute(
        pg_insert(PurchasingSettings)
        .values(tenant_id=audit.tenant_id, id=new_id(), version=1, **DEFAULTS)
        .on_conflict_do_nothing(index_elements=["tenant_id"])
    )
    row_id = await session.scalar(select(PurchasingSettings.id))
    assert row_id is not None
    row = await locked_at_version(
        session, PurchasingSettings, row_id, if_match, what="purchasing_settings"
    )
    before = {key: str(getattr(row, key)) for key in fields}
    for key, value in fields.items():
        setattr(row, key, value)
    await session.flush()
    audit.record(
        session,
        "purchasing.settings_updated",
        target_type="purchasing_settings",
        target_id=row.id,
        changes={
            key: {"before": before[key], "after": str(value)} for key, value in fields.items()
        },
    )
    return row
