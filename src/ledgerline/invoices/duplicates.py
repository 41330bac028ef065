"""Duplicate invoices: the same number twice is refused, a likely twin is flagged.

Numbers are compared folded (`values.fold_invoice_number`: NFKC, case, spaces,
punctuation and dash variants), through `invoices.number_key`, whose unique index per
vendor among invoices that are not void lets PostgreSQL refuse what a concurrent request
slips past. A void invoice blocks nothing.

A near duplicate is another invoice of the same vendor, kind, currency and total, issued
within 7 days, under another number. It is not refused: the invoice carries
`possible_duplicate_of`, refreshed whenever it is saved, submitted or approved, and
approving it needs an override with a reason (audited). The list names the oldest
NEAR_LIMIT twins only: it is evidence for a person, and a vendor's run of identical
invoices must not make every new one carry (and every save read) all the others.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.db import driver
from ledgerline.invoices.models import Invoice, InvoiceStatus
from ledgerline.problems import Problem
from ledgerline.values import fold_invoice_number

NEAR_DAYS = 7
NEAR_LIMIT = 10


# Sent with asyncpg itself (db/driver.py): both run on every create, save, submit and
# approval, and their answers are ids. Row-level security scopes them to the tenant.
_SAME_NUMBER = """
SELECT id FROM invoices
WHERE vendor_id = $1 AND number_key = $2 AND status <> $3
  AND ($4::uuid IS NULL OR id <> $4)
LIMIT 1
"""
_NEAR = """
SELECT ARRAY(
  SELECT id FROM invoices
  WHERE vendor_id = $1 AND kind = $2 AND currency = $3 AND total = $4
    AND issue_date BETWEEN $5 AND $6 AND number_key <> $7 AND status <> $8 AND id <> $9
  ORDER BY id
  LIMIT $10
)
"""


async def refuse_same_number(
    session: AsyncSession, vendor_id: UUID | None, number: str | None, own: UUID | None
) -> None:
    """409 `duplicate_invoice` when another invoice of the vendor that is not void has
    the number, folded."""
    if vendor_id is None or number is None:
        return
    connection = await driver.driver_connection(session)
    existing = await connection.fetchrow(
        _SAME_NUMBER, vendor_id, fold_invoice_number(number), InvoiceStatus.VOID.value, own
    )
    if existing is not None:
        raise Problem(
            409,
            "duplicate_invoice",
            "This vendor's invoice with this number exists.",
            extra={"existing_invoice_id": str(existing["id"])},
        )


async def near_duplicates(session: AsyncSession, invoice: Invoice) -> list[UUID]:
    """The ids of the invoice's likely twins, oldest first, at most NEAR_LIMIT."""
    if (
        invoice.vendor_id is None
        or invoice.issue_date is None
        or invoice.number_key is None
        or invoice.currency is None
    ):
        return []
    connection = await driver.driver_connection(session)
    found = await connection.fetchrow(
        _NEAR,
        invoice.vendor_id,
        str(invoice.kind),
        invoice.currency,
        invoice.total,
        invoice.issue_date - timedelta(days=NEAR_DAYS),
        invoice.issue_date + timedelta(days=NEAR_DAYS),
        invoice.number_key,
        InvoiceStatus.VOID.value,
        invoice.id,
        NEAR_LIMIT,
    )
    return [] if found is None else list(found[0])


async def mark(session: AsyncSession, invoice: Invoice) -> list[UUID]:
    """Refresh the invoice's `possible_duplicate_of`; returns it."""
    found = await near_duplicates(session, invoice)
    if found != list(invoice.possible_duplicate_of or []):
        invoice.possible_duplicate_of = found
    return found
