"""Vendor rules: tax ids normalised and unique per tenant, bank details masked."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.service import AuditContext, diff
from ledgerline.problems import Problem
from ledgerline.vendors.models import Vendor


def masked(account: str | None) -> str | None:
    """All but the last four characters hidden."""
    if account is None:
        return None
    return "*" * max(len(account) - 4, 0) + account[-4:]


def _snapshot(vendor: Vendor) -> dict[str, Any]:
    return {
        "name": vendor.name,
        "tax_id": vendor.tax_id,
        "email": vendor.email,
        "default_currency": vendor.default_currency,
        "payment_terms_days": vendor.payment_terms_days,
        "bank_account": masked(vendor.bank_account),
        "is_active": vendor.is_active,
    }


async def _flush(session: AsyncSession, vendor: Vendor) -> None:
    """Flush, refusing a tax id another vendor of the tenant holds (409 naming it)."""
    if vendor.tax_id is not None:
        with session.no_autoflush:
            holder = await session.scalar(
                select(Vendor.id).where(Vendor.tax_id == vendor.tax_id, Vendor.id != vendor.id)
            )
        if holder is not None:
            raise _taken(holder)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as error:  # a concurrent vendor took it in between
        raise _taken(None) from error


def _taken(holder: UUID | None) -> Problem:
    return Problem(
        409,
        "tax_id_taken",
        "Another vendor has this tax id.",
        extra={"existing_vendor_id": str(holder) if holder else None},
    )


async def create_vendor(session: AsyncSession, audit: AuditContext, **fields: Any) -> Vendor:
    vendor = Vendor(tenant_id=audit.tenant_id, **fields)
    session.add(vendor)
    await _flush(session, vendor)
    audit.record(
        session,
        "vendor.created",
        target_type="vendor",
        target_id=vendor.id,
        changes=_snapshot(vendor),
    )
    return vendor


async def get_vendor(session: AsyncSession, vendor_id: UUID, *, for_update: bool = False) -> Vendor:
    statement = select(Vendor).where(Vendor.id == vendor_id)
    if for_update:
        statement = statement.with_for_update()
    vendor = await session.scalar(statement)
    if vendor is None:
        raise Problem(404, "vendor_not_found", "No such vendor.")
    return vendor


async def update_vendor(
    session: AsyncSession, audit: AuditContext, vendor: Vendor, changes: dict[str, Any]
) -> Vendor:
    before = _snapshot(vendor)
    for key, value in changes.items():
        setattr(vendor, key, value)
    await _flush(session, vendor)
    audit.record(
        session,
        "vendor.updated",
        target_type="vendor",
        target_id=vendor.id,
        changes=diff(before, _snapshot(vendor)),
    )
    return vendor
