"""Vendor rules: tax ids normalised and unique per tenant, bank details masked and set
only by those allowed to redirect payments.

Each endpoint makes one call here that does its whole step (lock, If-Match, change, audit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.service import AuditContext, diff
from ledgerline.db.rows import locked_at_version, record_by_id, row_by_id
from ledgerline.ledger.models import Account, AccountType
from ledgerline.pagination import PageRequest, contains, keyset_page
from ledgerline.problems import Problem
from ledgerline.security.permissions import Permission
from ledgerline.values import is_gstin
from ledgerline.vendors.models import Vendor


def masked(account: str | None) -> str | None:
    """All but the last four characters hidden."""
    if account is None:
        return None
    return "*" * max(len(account) - 4, 0) + account[-4:]


def _bank_details_allowed(allowed: bool, given: bool) -> None:
    """Setting a vendor's bank account redirects payments: owners only."""
    if given and not allowed:
        raise Problem(
            403,
            "permission_denied",
            f"Setting bank details needs the '{Permission.VENDOR_BANK_DETAILS}' permission.",
        )


def _snapshot(vendor: Vendor) -> dict[str, Any]:
    return {
        "name": vendor.name,
        "tax_id": vendor.tax_id,
        "email": vendor.email,
        "default_currency": vendor.default_currency,
        "payment_terms_days": vendor.payment_terms_days,
        "bank_account": masked(vendor.bank_account),
        "is_active": vendor.is_active,
        "default_expense_account_id": (
            str(vendor.default_expense_account_id) if vendor.default_expense_account_id else None
        ),
        "state_code": vendor.state_code,
    }


def _state_from_gstin(vendor: Vendor) -> None:
    """A vendor with a GSTIN is in the state it names (its first two digits): the state
    is taken from it, and a different one is refused (422)."""
    if vendor.tax_id is None or not is_gstin(vendor.tax_id):
        return
    if vendor.state_code is None:
        vendor.state_code = vendor.tax_id[:2]
    elif vendor.state_code != vendor.tax_id[:2]:
        raise Problem(
            422,
            "state_code_mismatch",
            f"The GSTIN names state {vendor.tax_id[:2]}, not {vendor.state_code}.",
        )


async def _check_expense_account(session: AsyncSession, account_id: UUID | None) -> None:
    """A vendor's default account is an active expense (or asset) account of the tenant."""
    if account_id is None:
        return
    account = await session.scalar(select(Account).where(Account.id == account_id))
    if account is None:
        raise Problem(422, "account_not_found", "This tenant has no such account.")
    if account.type not in (AccountType.EXPENSE, AccountType.ASSET) or not account.active:
        raise Problem(
            422,
            "expense_account_invalid",
            f"Account {account.code} is not an active expense or asset account.",
        )


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


async def create_vendor(
    session: AsyncSession, audit: AuditContext, *, may_set_bank_details: bool, **fields: Any
) -> Vendor:
    _bank_details_allowed(may_set_bank_details, fields.get("bank_account") is not None)
    await _check_expense_account(session, fields.get("default_expense_account_id"))
    vendor = Vendor(tenant_id=audit.tenant_id, **fields)
    _state_from_gstin(vendor)
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


async def get_vendor(session: AsyncSession, vendor_id: UUID) -> Vendor:
    return await row_by_id(session, Vendor, vendor_id, what="vendor")


# A vendor as GET /vendors/{id} shows it, read with asyncpg itself (db/driver.py).
_VENDOR = """
SELECT id, name, tax_id, email, address, default_currency, payment_terms_days,
       bank_account, is_active, default_expense_account_id, state_code, created_at,
       updated_at, version
  FROM vendors
 WHERE id = $1
"""


async def read_vendor(session: AsyncSession, vendor_id: UUID) -> asyncpg.Record:
    return await record_by_id(session, _VENDOR, vendor_id, what="vendor")


async def list_vendors(
    session: AsyncSession,
    page: PageRequest,
    *,
    q: str | None,
    is_active: bool | None,
    currency: str | None,
) -> tuple[Sequence[Vendor], str | None]:
    """A page of vendors (`q` in name or tax id), and the cursor of the next one."""
    statement = select(Vendor)
    if q:
        pattern = contains(q)
        statement = statement.where(or_(Vendor.name.ilike(pattern), Vendor.tax_id.ilike(pattern)))
    if is_active is not None:
        statement = statement.where(Vendor.is_active == is_active)
    if currency is not None:
        statement = statement.where(Vendor.default_currency == currency)
    return await keyset_page(session, statement, Vendor.id, page)


async def update_vendor(
    session: AsyncSession,
    audit: AuditContext,
    vendor_id: UUID,
    changes: dict[str, Any],
    *,
    if_match: str | None,
    may_set_bank_details: bool,
) -> Vendor:
    vendor = await locked_at_version(session, Vendor, vendor_id, if_match, what="vendor")
    _bank_details_allowed(may_set_bank_details, "bank_account" in changes)
    return await _change(session, audit, vendor, changes)


async def deactivate_vendor(
    session: AsyncSession, audit: AuditContext, vendor_id: UUID, *, if_match: str | None
) -> None:
    """A deactivated vendor's invoices keep pointing at it; a second time changes nothing."""
    vendor = await locked_at_version(session, Vendor, vendor_id, if_match, what="vendor")
    if vendor.is_active:
        await _change(session, audit, vendor, {"is_active": False})


async def _change(
    session: AsyncSession, audit: AuditContext, vendor: Vendor, changes: dict[str, Any]
) -> Vendor:
    if "default_expense_account_id" in changes:
        await _check_expense_account(session, changes["default_expense_account_id"])
    before = _snapshot(vendor)
    for key, value in changes.items():
        setattr(vendor, key, value)
    if "tax_id" in changes and "state_code" not in changes and vendor.tax_id:
        vendor.state_code = None  # a new GSTIN brings its state
    _state_from_gstin(vendor)
    await _flush(session, vendor)
    audit.record(
        session,
        "vendor.updated",
        target_type="vendor",
        target_id=vendor.id,
        changes=diff(before, _snapshot(vendor)),
    )
    return vendor
